"""Outbound HTTP that a user can aim: the ``url`` source now, webhooks and Google later.

A URL given by a user makes the service open a connection from inside the operator's network,
so every request goes through one policy (:mod:`kickflow.net.policy`): http(s) only, no
credentials in the URL, the host resolved once and every address checked against the table of
non-public ranges (:mod:`kickflow.net.addresses`), then the connection made to the checked
address itself (:mod:`kickflow.net.client`), redirects checked again at every hop, and caps on
hops, bytes and time. An operator allow-list (``KICKFLOW_URL_ALLOW_HOSTS`` and
``KICKFLOW_URL_ALLOW_NETWORKS``) lets internal sources through; cloud metadata addresses stay
refused whatever it says.
"""

from kickflow.net.client import OutboundClient, Reply
from kickflow.net.policy import Limits, OutboundPolicy, Resolver, shown_url

__all__ = ["Limits", "OutboundClient", "OutboundPolicy", "Reply", "Resolver", "shown_url"]
