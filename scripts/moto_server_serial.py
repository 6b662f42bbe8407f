"""moto_server, answering one request at a time.

Real DynamoDB applies conditional writes to an item one after the other; that is what
makes a claim exclusive. The threaded moto_server checks a condition and then writes
with no lock in between, so two concurrent claims on one record can both succeed there.
The tests are about our code, not moto's locking, so they run moto unthreaded.

Usage: python scripts/moto_server_serial.py -H 127.0.0.1 -p PORT
"""

import sys

import moto.server as server

_run_simple = server.run_simple
server.run_simple = lambda *args, **kwargs: _run_simple(*args, **{**kwargs, "threaded": False})
server.main(sys.argv[1:])
