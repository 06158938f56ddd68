# Eve (python-eve) peer for the Roost benchmark, served by gunicorn (WSGI entry
# point `app:app`); all configuration is in settings.py next to this file.
import os

from eve import Eve

app = Eve(settings=os.path.join(os.path.dirname(os.path.abspath(__file__)), "settings.py"))
