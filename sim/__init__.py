"""The Mininet replay of a topology (issue 4): not written yet."""
