"""Virtual time through the real server-side stack: store, controllers, policies, sim cloud."""
