// Roost browse page: properties by city and a user search, over the public
// read API. Every piece of data goes into the page through textContent.
"use strict";

const PER_PAGE = 6;
const $ = (id) => document.getElementById(id);
const state = { city: "", propertyPage: 1, userPage: 1, username: "" };

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

async function api(path) {
  const res = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body.detail || `the server answered ${res.status}`);
  return body;
}

function pager(prefix, page, total, perPage) {
  const pages = Math.max(1, Math.ceil(total / perPage));
  $(prefix + "-pager").hidden = total <= perPage;
  $(prefix + "-page").textContent = `Page ${page} of ${pages}`;
  $(prefix + "-prev").disabled = page <= 1;
  $(prefix + "-next").disabled = page >= pages;
}

async function loadCities() {
  const select = $("city");
  const { items } = await api("/api/v1/cities");
  select.replaceChildren(el("option", items.length ? "Choose a city" : "No properties yet", ""));
  select.firstChild.value = "";
  for (const { city, count } of items) {
    const option = el("option", `${city} (${count})`);
    option.value = city;
    select.append(option);
  }
}

async function loadProperties() {
  $("property-detail").hidden = true;
  const list = $("property-list");
  list.hidden = false;
  if (!state.city) {
    list.replaceChildren();
    $("property-pager").hidden = true;
    return;
  }
  const q = new URLSearchParams({ city: state.city, page: state.propertyPage, per_page: PER_PAGE, order_by: "name" });
  const body = await api(`/api/v1/properties?${q}`);
  list.replaceChildren();
  for (const p of body.items) {
    const li = el("li");
    const open = el("button", p.name, "link");
    open.type = "button";
    open.addEventListener("click", () => showProperty(p.id).catch((e) => showError(e.message)));
    li.append(open, el("div", `${p.type} · ${p.room_count} room${p.room_count === 1 ? "" : "s"} · ${p.address}`, "meta"));
    list.append(li);
  }
  pager("property", body.page, body.total, body.per_page);
}

/* The property's photos: the cover large, the others as thumbnails that take its place. */
function showGallery(p) {
  const gallery = $("detail-gallery");
  gallery.replaceChildren();
  gallery.hidden = !p.photos?.length;
  if (!p.photos?.length) return;
  const big = el("img", null, "photo");
  const show = (photo) => {
    big.src = `${photo.url}?w=1280`;
    big.alt = photo.caption || `Photo ${photo.order} of ${p.name}`;
  };
  show(p.photos[0]);
  gallery.append(big);
  if (p.photos.length > 1) {
    const strip = el("div", null, "thumbs");
    for (const photo of p.photos) {
      const b = el("button", null, "thumb");
      b.type = "button";
      b.setAttribute("aria-label", `Show photo ${photo.order}`);
      const img = el("img");
      img.src = `${photo.url}?w=160`;
      img.alt = "";
      img.loading = "lazy";
      b.append(img);
      b.addEventListener("click", () => show(photo));
      strip.append(b);
    }
    gallery.append(strip);
  }
}

async function showProperty(id) {
  const p = await api(`/api/v1/properties/${encodeURIComponent(id)}`);
  $("detail-name").textContent = p.name;
  $("detail-meta").textContent = `${p.type} in ${p.city} · ${p.address}`;
  $("detail-description").textContent = p.description || "";
  const rooms = $("detail-rooms");
  rooms.replaceChildren();
  for (const r of p.rooms) {
    const li = el("li");
    li.append(el("strong", r.name), document.createTextNode(` — ${r.kind}, ${r.area_m2} m²`));
    const chars = Object.entries(r.characteristics || {}).map(([k, v]) => `${k}: ${v}`).join(", ");
    if (chars) li.append(el("div", chars, "chars"));
    rooms.append(li);
  }
  if (!p.rooms.length) rooms.append(el("li", "No rooms listed."));
  showGallery(p);
  $("property-list").hidden = true;
  $("property-pager").hidden = true;
  $("property-detail").hidden = false;
  $("detail-name").focus?.();
}

async function loadUsers() {
  const q = new URLSearchParams({ page: state.userPage, per_page: PER_PAGE, order_by: "username" });
  if (state.username) q.set("username", state.username);
  const body = await api(`/api/v1/users?${q}`);
  const list = $("user-list");
  list.replaceChildren();
  for (const u of body.items) {
    const li = el("li");
    li.append(el("strong", u.username || u.name), el("div", u.name, "meta"));
    list.append(li);
  }
  $("user-count").textContent = `${body.total} user${body.total === 1 ? "" : "s"}`;
  pager("user", body.page, body.total, body.per_page);
}

function guard(fn) {
  return (...args) => { showError(""); return fn(...args).catch((e) => showError(e.message)); };
}

$("city").addEventListener("change", guard(async (e) => { state.city = e.target.value; state.propertyPage = 1; await loadProperties(); }));
$("property-prev").addEventListener("click", guard(async () => { state.propertyPage--; await loadProperties(); }));
$("property-next").addEventListener("click", guard(async () => { state.propertyPage++; await loadProperties(); }));
$("property-close").addEventListener("click", guard(loadProperties));
$("user-search").addEventListener("submit", guard(async (e) => {
  e.preventDefault();
  state.username = $("username").value.trim();
  state.userPage = 1;
  await loadUsers();
}));
$("user-prev").addEventListener("click", guard(async () => { state.userPage--; await loadUsers(); }));
$("user-next").addEventListener("click", guard(async () => { state.userPage++; await loadUsers(); }));

guard(async () => { await loadCities(); await loadUsers(); })();
