// Express peer for the Roost benchmark: Express 5 + the official mongodb driver,
// node:cluster with 2 workers, serving GET /api/v1/users/{id}.
// Config: PEER_PORT, MONGODB_URI, PEER_DB.
'use strict';
const cluster = require('node:cluster');
const express = require('express');
const { MongoClient } = require('mongodb');

const WORKERS = 2;

if (cluster.isPrimary) {
  for (let i = 0; i < WORKERS; i++) cluster.fork();
  let stopping = false;
  const shutdown = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers)) w.kill('SIGTERM');
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  cluster.on('exit', () => {
    if (stopping && Object.keys(cluster.workers).length === 0) process.exit(0);
  });
} else {
  const client = new MongoClient(process.env.MONGODB_URI);
  const users = client.db(process.env.PEER_DB).collection('users');
  const projection = { password_hash: 0, username_key: 0, rid: 0 };

  const app = express();
  app.get('/api/v1/users/:id', async (req, res) => {
    const id = Number(req.params.id);
    if (!/^-?[0-9]+$/.test(req.params.id) || !Number.isSafeInteger(id)) {
      return res.status(400).json({ error: 'bad_id' });
    }
    const doc = await users.findOne({ _id: id }, { projection });
    if (!doc) return res.status(404).json({ error: 'not_found' });
    const { _id, ...rest } = doc;
    res.set('ETag', `"${doc.version}"`).json({ id: _id, ...rest });
  });

  const server = app.listen(Number(process.env.PEER_PORT), '127.0.0.1');
  process.on('SIGTERM', () => server.close(() => client.close().then(() => process.exit(0))));
}
