"""The job store contract suite; start at :mod:`tests.store_contract`."""
