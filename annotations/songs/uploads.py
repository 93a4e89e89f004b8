"""Refusing an over-size upload while it streams in, instead of after writing it all to disk."""

from __future__ import annotations

from typing import Any

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest


class LimitedUploadHandler(FileUploadHandler):
    """Put first in ``request.upload_handlers``: counts bytes per file and stops past ``limit``.

    The rest of the request body is read and discarded (``connection_reset=False``) so the
    browser gets a readable answer rather than a reset connection.
    """

    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.too_large_name = ""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_large_name = str(self.file_name or "the file")
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
