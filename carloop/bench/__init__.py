"""Benchmarks, load generators and simulations, kept out of the product packages.

Each module drives product code from outside, the way a buyer, a plant or a fleet of cars would:
``launch`` (+ ``loadgen``) the launch-day surge and the crash test, ``booking`` the test-drive race,
``allocate`` and ``operations`` production allocation and weeks of operations, ``scenes`` and ``car``
the person-car-home loop over MQTT, ``analytics`` and ``launch_data`` the dashboard over a simulated
launch, ``similar`` the similar-suggestion lookups, ``db`` throwaway databases for all of them.
``carloop/cli/bench.py`` only parses options and calls in here; no product module imports this package.
"""
