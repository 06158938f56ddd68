"""Who may speak nng (issue 12, §7): with tls+tcp:// URLs every Roost socket
speaks mutual TLS. The whole stack serves HTTP through it; a direct nng
client without a certificate, or with one the CA did not sign, is refused;
one with a good certificate is served."""
import os
import socket
import subprocess
import time

import bson
import pynng
import pytest
import requests

from roost_stack import BUILD, Stack, free_port, make_ca, make_cert, make_pki, pki_env, port_open, wait_until


@pytest.fixture(scope="module")
def tls_stack(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("pki"))
    pki = make_pki(d)
    pki["rogue"] = make_cert(d, make_ca(d, "rogue-ca"), "rogue")
    s = Stack(workers=2, env=pki_env(pki), tls=True)
    try:
        s.start()
        s.pki = pki
        yield s
    finally:
        s.stop()


def test_the_stack_serves_http_over_mutual_tls(tls_stack):
    assert requests.get(tls_stack.url("/readyz"), timeout=10).status_code == 200
    r = requests.post(tls_stack.url("/api/v1/users"), timeout=20, json={
        "username": "tlsuser", "password": "correct horse", "first_name": "T", "last_name": "L",
        "birth_date": "1990-01-01"})
    assert r.status_code == 201, r.text


def test_a_client_with_a_good_certificate_is_served(tls_stack):
    r = tls_stack.roostctl("call", "sys.ping")
    assert r.returncode == 0, r.stderr
    cfg = pynng.TLSConfig(pynng.TLSConfig.MODE_CLIENT, ca_files=[tls_stack.pki["ca"]],
                          cert_key_file=tls_stack.pki["good"], server_name="127.0.0.1")
    with pynng.Req0(recv_timeout=5000, tls_config=cfg) as sock:
        sock.dial(tls_stack.pool_url, block=True)
        sock.send(bson.encode({"v": 1, "op": "sys.ping"}))
        assert bson.decode(sock.recv())["status"] == 200


def test_a_client_with_a_certificate_of_another_ca_is_refused(tls_stack):
    env = {"ROOST_TLS_CERT_KEY_FILE": tls_stack.pki["rogue"], "ROOST_REQUEST_TIMEOUT_MS": "1500"}
    e = tls_stack.env()
    e.update(env)
    r = subprocess.run([os.path.join(BUILD, "tools", "roostctl"), "call", "sys.ping"], capture_output=True, text=True,
                       env=e, timeout=30)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)


def test_a_broker_whose_certificate_names_another_host_is_refused(tls_stack):
    """The dialer checks the listener's name (the URL's host, or
    ROOST_TLS_SERVER_NAME): a good certificate for another name does not pass."""
    e = tls_stack.env()
    e.update({"ROOST_TLS_SERVER_NAME": "broker.elsewhere.example", "ROOST_REQUEST_TIMEOUT_MS": "1500"})
    r = subprocess.run([os.path.join(BUILD, "tools", "roostctl"), "call", "sys.ping"], capture_output=True, text=True,
                       env=e, timeout=30)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)


def test_a_client_without_a_certificate_is_refused(tls_stack):
    cfg = pynng.TLSConfig(pynng.TLSConfig.MODE_CLIENT, ca_files=[tls_stack.pki["ca"]], server_name="127.0.0.1")
    with pynng.Req0(recv_timeout=2000, tls_config=cfg) as sock:
        with pytest.raises(pynng.NNGException):
            sock.dial(tls_stack.pool_url, block=True)


def test_plain_tcp_is_refused_by_a_tls_pool(tls_stack):
    """A plain SP handshake on the TLS port is never answered as one."""
    host, port = tls_stack.pool_url[len("tls+tcp://"):].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=3) as raw:
        raw.sendall(b"\x00SP\x00\x00\x30\x00\x00")
        try:
            answer = raw.recv(8)
        except OSError:  # a timeout or a reset: refused
            answer = b""
        assert not answer.startswith(b"\x00SP\x00"), answer


def test_a_tls_url_without_files_is_a_clear_error(tls_stack):
    e = tls_stack.env()
    del e["ROOST_TLS_CA_FILE"]
    r = subprocess.run([os.path.join(BUILD, "tools", "roostctl"), "call", "sys.ping"], capture_output=True, text=True,
                       env=e, timeout=30)
    assert r.returncode == 2 and "ROOST_TLS_CA_FILE" in r.stderr, r.stderr


# --- the direct path (ingress -> worker, no broker) over mutual TLS -----------

def direct_url(stack, i=0):
    return stack.workers_url().split(",")[i]


def test_the_ingress_reaches_the_workers_directly_over_tls(tls_stack):
    assert direct_url(tls_stack).startswith("tls+tcp://")
    pool_log = tls_stack.log("pool")
    assert "serving the ingress directly on tls+tcp://" in pool_log
    assert "connected" in tls_stack.log("ingress")


def test_an_nng_client_with_a_good_certificate_is_served_by_a_worker_directly(tls_stack):
    """The direct listener is nng's REP over TLS: any REQ socket may use it."""
    cfg = pynng.TLSConfig(pynng.TLSConfig.MODE_CLIENT, ca_files=[tls_stack.pki["ca"]],
                          cert_key_file=tls_stack.pki["good"], server_name="127.0.0.1")
    with pynng.Req0(recv_timeout=5000, tls_config=cfg) as sock:
        sock.dial(direct_url(tls_stack, 1), block=True)
        for _ in range(3):
            sock.send(bson.encode({"v": 1, "op": "sys.ping"}))
            assert bson.decode(sock.recv())["status"] == 200


@pytest.mark.parametrize("who", ["rogue", "none"])
def test_a_worker_refuses_a_client_without_a_good_certificate(tls_stack, who):
    kw = {"cert_key_file": tls_stack.pki["rogue"]} if who == "rogue" else {}
    cfg = pynng.TLSConfig(pynng.TLSConfig.MODE_CLIENT, ca_files=[tls_stack.pki["ca"]], server_name="127.0.0.1", **kw)
    with pynng.Req0(recv_timeout=1500, send_timeout=1500, tls_config=cfg) as sock:
        try:
            sock.dial(direct_url(tls_stack), block=True)
            sock.send(bson.encode({"v": 1, "op": "sys.ping"}))
            answer = sock.recv()
        except pynng.NNGException:
            answer = None
        assert answer is None, "a worker answered a client the CA did not vouch for"
    # and it still serves the ingress
    assert requests.get(tls_stack.url("/ping"), timeout=10).status_code == 200


def test_the_ingress_checks_the_workers_name(tls_stack):
    """An ingress told to expect another name reaches no worker: 503, never served by a stranger."""
    port = free_port()
    e = tls_stack.env()
    e.update({"ROOST_TLS_SERVER_NAME": "worker.elsewhere.example", "ROOST_HTTP_PORT": str(port)})
    proc = subprocess.Popen([os.path.join(BUILD, "ingress", "roost-ingress")], env=e, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        wait_until(lambda: port_open(port), 10, "the second ingress")
        time.sleep(1)
        assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=10).status_code == 503
        r = requests.get(f"http://127.0.0.1:{port}/ping", timeout=10)
        assert r.status_code == 503 and r.json()["code"] == "pool_unavailable", r.text
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert "cannot connect (" in err, err[-2000:]
