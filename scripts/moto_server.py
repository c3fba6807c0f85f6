"""Runs moto in server mode on 127.0.0.1, answering one request at a time.

moto's own `moto_server` answers requests on parallel threads, and its DynamoDB backend does
not lock an item between a ConditionExpression check and the write: under concurrent requests
two conditional updates can both succeed (seen here: 2 of 30 trials with 20 racing clients).
Real DynamoDB applies each conditional write to an item atomically. Serving one request at a
time restores that guarantee, so the concurrency tests test our code, not moto's races.

Usage: python scripts/moto_server.py PORT
"""

import sys

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main() -> None:
    port = int(sys.argv[1])
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        "127.0.0.1",
        port,
        app,
        threaded=False,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
