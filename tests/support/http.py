"""One HTTP client for the tests' calls to the servers they start.

``httpx.get`` builds a client, and with it an SSL context, for every call: ~36 ms of CPU
against ~8 ms through one client (measured on a local server), and the tests poll their
servers every 0.1 s on 2 busy cores.
"""

import httpx

HTTP = httpx.Client(timeout=5)  # httpx.get's default timeout
