"""Typed keys for what `create_app` puts on the application."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from plugin.bootstrap import Services
from plugin.metrics import Metrics
from plugin.settings import Settings
from sync.jobs import JobQueue
from sync.store.db import Database
from sync.worker import Clock, Worker

SETTINGS = web.AppKey("settings", Settings)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
SERVICES = web.AppKey("services", Services)
DATABASE = web.AppKey("database", Database)
QUEUE = web.AppKey("queue", JobQueue)
METRICS = web.AppKey("metrics", Metrics)
HTTP = web.AppKey("http", aiohttp.ClientSession)
WORKER = web.AppKey("worker", Worker)
