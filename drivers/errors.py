"""The error tree every Upsight layer raises, rooted at UpsError.

::

    UpsError
    ├── TransportError          the link to the device failed
    │   ├── NotFound            no such device, port or host
    │   ├── Disconnected        the device went away mid-session
    │   ├── TransportTimeout    the device did not answer in time
    │   ├── PermissionDenied    the OS refused access
    │   └── DataStale           the source has no fresh data (e.g. upsd's DATA-STALE)
    ├── ProtocolError           the device answered, but not in its protocol
    ├── UnsupportedCommand      the device cannot run that command
    ├── DeviceSpecError         a device spec string is malformed or unknown
    └── DriverUnavailable       the spec is valid but this build has no driver for it

Transports map backend errors (USBError, SerialException, OSError) onto this
tree with ``raise ... from exc``; nothing else ever leaves ``drivers/``.
The agent adds its own branches (configuration, local API) under UpsError.
"""


class UpsError(Exception):
    """Root of every error Upsight raises on purpose."""


class TransportError(UpsError):
    """The link to the device failed; reconnecting may help."""


class NotFound(TransportError):
    """The device, port or host does not exist (or not yet)."""


class Disconnected(TransportError):
    """The device went away during a session."""


class TransportTimeout(TransportError):
    """The device did not answer within the read timeout."""


class PermissionDenied(TransportError):
    """The operating system refused access to the device."""


class DataStale(TransportError):
    """The source answers but has no fresh data, such as upsd's ``ERR DATA-STALE``."""


class ProtocolError(UpsError):
    """The device answered with something its protocol does not allow."""


class UnsupportedCommand(UpsError):
    """The device does not offer the requested instant command."""


class InvalidValue(UpsError, ValueError):
    """A command or variable was given a value the device cannot take."""


class DeviceSpecError(UpsError):
    """A device spec string is malformed or names an unknown kind of device."""


class DriverUnavailable(UpsError):
    """The device spec is well formed but no driver for it is available."""
