"""The os-ken OpenFlow 1.3 controller (issue 3): not written yet."""
