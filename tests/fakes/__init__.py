"""Local stand-ins for the outside world: fake HTTP APIs, a fake clock, a worker process."""
