"""The os-ken OpenFlow 1.3 controller: a pure flow-deciding core and a thin os-ken app."""

import warnings

# Open vSwitch's Python library probes for eventlet (which os-ken installs), and
# eventlet warns on import that it is deprecated; nothing here uses eventlet.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
