"""What the tests share, in one package (imported as `tests.support.x`; no test puts a
folder on sys.path):

    ports       which loopback ports each test that starts processes may use
    waits       wait_until: poll an observable condition with a bound, instead of sleeping
    nodeapp     one node in-process under aiohttp's test client, its log in tmp_path
    wire        gossip messages as a peer puts them on the wire
    pagekit     the browser tests' Chromium, output folder and helpers
    obskit      the observatory page tests' ports and token
    composelab  the Docker Compose lab driven as a user would (docker compose, published ports)
    labfiles    the lab's configuration files: PromQL expressions, promtool
    swarmlab    the lab as a Docker Swarm stack
"""
