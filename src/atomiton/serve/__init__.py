"""``atomiton serve``: the JSON-RPC 2.0 protocol over stdio and WebSocket, and the live web view.

``protocol`` holds the messages, ``rpc`` the framing, ``methods`` what each method does, ``runs``
the runs a server started, ``view`` and ``layout`` what the page draws, ``page`` the page itself
and the saved report, ``app`` the WebSocket/HTTP transport (the ``serve`` extra) and ``stdio`` the
stdio one. The runtime imports none of this; the run history it reads and writes is
``atomiton.store``'s.
"""

from __future__ import annotations
