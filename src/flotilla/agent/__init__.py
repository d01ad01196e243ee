"""The node agent: joins the server, runs the replicas it is told to, reports how they are."""
