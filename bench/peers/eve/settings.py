# Eve settings for the Roost benchmark peer: one read-only item endpoint,
# GET /api/v1/users/{id}, looked up by integer _id in PEER_DB.users (MONGODB_URI).
import os

MONGO_URI = os.environ["MONGODB_URI"]
MONGO_DBNAME = os.environ["PEER_DB"]

URL_PREFIX = "api"
API_VERSION = "v1"

RESOURCE_METHODS = []
ITEM_METHODS = ["GET"]

DOMAIN = {
    "users": {
        "datasource": {
            "source": "users",
            # Inclusion projection: password_hash, username_key and rid are never read.
            "projection": {
                "username": 1,
                "first_name": 1,
                "last_name": 1,
                "name": 1,
                "birth_date": 1,
                "created_at": 1,
                "updated_at": 1,
                "version": 1,
            },
        },
        "item_url": "int(max=9223372036854775807)",  # Flask int converter, int64 range
        "item_lookup_field": "_id",
        "schema": {
            "_id": {"type": "integer"},
            "username": {"type": "string"},
            "first_name": {"type": "string"},
            "last_name": {"type": "string"},
            "name": {"type": "string"},
            "birth_date": {"type": "string"},
            "created_at": {"type": "integer"},
            "updated_at": {"type": "integer"},
            "version": {"type": "integer"},
        },
    }
}
