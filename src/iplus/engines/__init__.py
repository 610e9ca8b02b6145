"""Service platform engines: stream, batch, AI and simulation; they know nothing of the platform."""
