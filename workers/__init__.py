"""Celery tasks. Each module is one queue (see workbench/celery.py): tasks parse ids, re-fetch with a
state guard, and call one service."""
