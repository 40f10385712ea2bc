"""In-memory stand-ins for the product's ports, for unit tests (see :mod:`tests.fakes.store`)."""

from tests.fakes.clock import FakeClock
from tests.fakes.store import FakeJobStore
from tests.fakes.tables import Call, FakeDatabase

__all__ = ["Call", "FakeClock", "FakeDatabase", "FakeJobStore"]
