# FastAPI peer for the Roost benchmark: GET /api/v1/users/{id} read from MongoDB
# with pymongo's AsyncMongoClient. Config: MONGODB_URI, PEER_DB (port via uvicorn).
import os
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pymongo import AsyncMongoClient

PROJECTION = {"password_hash": 0, "username_key": 0, "rid": 0}


@asynccontextmanager
async def lifespan(app: FastAPI):
    client = AsyncMongoClient(os.environ["MONGODB_URI"])
    app.state.users = client[os.environ["PEER_DB"]]["users"]
    yield
    await client.close()


app = FastAPI(lifespan=lifespan)


@app.get("/api/v1/users/{user_id}")
async def get_user(user_id: str):
    if not user_id.isascii() or not user_id.lstrip("-").isdigit():
        return JSONResponse({"error": "bad_id"}, status_code=400)
    uid = int(user_id)
    if not -(2**63) <= uid < 2**63:
        return JSONResponse({"error": "bad_id"}, status_code=400)
    doc = await app.state.users.find_one({"_id": uid}, PROJECTION)
    if doc is None:
        return JSONResponse({"error": "not_found"}, status_code=404)
    body = {"id": doc.pop("_id"), **doc}
    return JSONResponse(body, headers={"ETag": f'"{body["version"]}"'})
