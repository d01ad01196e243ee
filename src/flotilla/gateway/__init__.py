"""The gateway: Flotilla's data plane (DESIGN §5).

``flotilla gateway`` serves ``POST /v1/deployments/{id}/predict`` (and
``/v1/users/{user}/deployments/{id}/predict``): it authenticates the caller's token through the
server (cached), routes to the ready replica with the fewest requests in flight, holds requests
while a deployment scales from zero, reports traffic to the server every second and exposes
``/metrics``. It knows the control plane only through its HTTP API.

Modules: ``app`` (the ASGI app and the request path), ``requests`` (reading a request, writing
answers), ``routing`` (routes and the pick), ``upstream`` (the client to replicas), ``control``
(server API, token cache, routes long-poll), ``signals`` (traffic reports), ``metrics``,
``server`` (uvicorn's protocol with coalesced writes), ``main`` (the command).
"""
