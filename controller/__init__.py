"""The os-ken OpenFlow 1.3 controller: a pure flow-deciding core and a thin os-ken app."""
