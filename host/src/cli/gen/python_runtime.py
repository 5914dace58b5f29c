

class RpcError(Exception):
    """An error reply from the server.

    Attributes:
        code (typing.Optional[int]): the JSON-RPC error code (``-32000`` for a user error,
            ``-32601`` for an unknown method, ...), if the server sent one.
        name (typing.Optional[str]): the error's name (``TypeError``, ``UserError``, ...):
            the error object's ``name``, or ``data.name`` as reflex servers send it.
        message (str): the human-readable message.
        data (typing.Any): the error object's ``data`` member, as sent (``None`` if absent).
    """

    def __init__(
        self,
        message: str,
        code: typing.Optional[int] = None,
        name: typing.Optional[str] = None,
        data: typing.Any = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.name = name
        self.message = message
        self.data = data

    @classmethod
    def _from_reply(cls, error: typing.Any) -> "RpcError":
        if not isinstance(error, dict):
            return cls(error if isinstance(error, str) else _json.dumps(error))
        data = error.get("data")
        name = error.get("name")
        if not isinstance(name, str) and isinstance(data, dict) and isinstance(data.get("name"), str):
            name = data["name"]
        code = error.get("code")
        message = error.get("message", "")
        return cls(
            message if isinstance(message, str) else _json.dumps(message),
            code if isinstance(code, int) and not isinstance(code, bool) else None,
            name if isinstance(name, str) else None,
            data,
        )

    def __str__(self) -> str:
        text = "%s: %s" % (self.name, self.message) if self.name else self.message
        return text if self.code is None else "%s (code %d)" % (text, self.code)

    def __repr__(self) -> str:
        return "RpcError(%r, code=%r, name=%r, data=%r)" % (self.message, self.code, self.name, self.data)


class ProtocolError(Exception):
    """The server's answer is not a JSON-RPC reply (or an HTTP error without one)."""


class _LineTransport:
    """Line-delimited JSON over a TCP, TLS or Unix socket; reconnects after a failure."""

    def __init__(
        self,
        family: int,
        address: typing.Any,
        timeout: typing.Optional[float],
        ssl_context: typing.Optional[_ssl.SSLContext],
        server_hostname: typing.Optional[str],
    ) -> None:
        self._family = family
        self._address = address
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._server_hostname = server_hostname
        self._sock: typing.Optional[_socket.socket] = None
        self._file: typing.Any = None

    def _connect(self) -> None:
        if self._family == _socket.AF_UNIX:
            sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
            sock.settimeout(self._timeout)
            try:
                sock.connect(self._address)
            except BaseException:
                sock.close()
                raise
        else:
            sock = _socket.create_connection(self._address, timeout=self._timeout)
        if self._ssl_context is not None:
            try:
                sock = self._ssl_context.wrap_socket(sock, server_hostname=self._server_hostname)
            except BaseException:
                sock.close()
                raise
        self._sock = sock
        self._file = sock.makefile("rb")

    def exchange(self, request: bytes, request_id: int) -> typing.Any:
        if self._sock is None:
            self._connect()
        assert self._sock is not None
        try:
            self._sock.sendall(request + b"\r\n")
            while True:
                line = self._file.readline()
                if not line:
                    raise ConnectionError("the server closed the connection")
                if not line.strip():
                    continue
                try:
                    reply = _json.loads(line.decode("utf-8"))
                except ValueError:
                    raise ProtocolError("invalid reply: %r" % line[:1000])
                # Replies that answer something else (a late reply to a call that timed out)
                # are skipped; an error without id (the server could not read the request's)
                # is this request's.
                if isinstance(reply, dict):
                    reply_id = reply.get("id")
                    if (reply_id == request_id and not isinstance(reply_id, bool)) or (
                        reply_id is None and reply.get("error") is not None
                    ):
                        return reply
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass


class _HttpTransport:
    """JSON-RPC over HTTP(S) POST on one keep-alive connection (``http.client``)."""

    def __init__(
        self,
        https: bool,
        host: str,
        port: int,
        path: str,
        timeout: typing.Optional[float],
        basic_auth: typing.Optional[typing.Tuple[str, str]],
        ssl_context: typing.Optional[_ssl.SSLContext],
    ) -> None:
        self._https = https
        self._host = host
        self._port = port
        self._path = path
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if basic_auth is not None:
            token = _base64.b64encode(("%s:%s" % basic_auth).encode("utf-8")).decode("ascii")
            self._headers["Authorization"] = "Basic " + token
        self._conn: typing.Any = None

    def _connection(self) -> typing.Any:
        if self._conn is None:
            if self._https:
                context = self._ssl_context if self._ssl_context is not None else _ssl.create_default_context()
                self._conn = _http_client.HTTPSConnection(self._host, self._port, timeout=self._timeout, context=context)
            else:
                self._conn = _http_client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        return self._conn

    def exchange(self, request: bytes, request_id: int) -> typing.Any:
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.request("POST", self._path, body=request, headers=self._headers)
                response = conn.getresponse()
                body = response.read()
            except (_http_client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A keep-alive connection the server closed while idle: retried once, on a new one.
                self.close()
                if attempt == 2:
                    raise
                continue
            except BaseException:
                self.close()
                raise
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            if response.status == 401:
                raise PermissionError("authentication failed (HTTP 401 Unauthorized)")
            try:
                reply = _json.loads(body.decode("utf-8")) if body.strip() else None
            except ValueError:
                reply = None
            if not isinstance(reply, dict) or ("result" not in reply and "error" not in reply):
                raise ProtocolError("HTTP status %d: %r" % (response.status, body[:1000]))
            return reply
        raise AssertionError("unreachable")

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _array_item_type(type_name: str) -> typing.Optional[str]:
    type_name = type_name.strip()
    if type_name.startswith("array<") and type_name.endswith(">") and type_name[6:-1].strip():
        return type_name[6:-1].strip()
    return None


def _encode(type_name: str, value: typing.Any) -> typing.Any:
    """A Python value as the server expects a ``type_name`` on the wire."""
    type_name = type_name.strip()
    item = _array_item_type(type_name)
    if item is not None and isinstance(value, (list, tuple)):
        return [_encode(item, v) for v in value]
    if type_name == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type_name == "base64" and isinstance(value, (bytes, bytearray, memoryview)):
        return _base64.b64encode(bytes(value)).decode("ascii")
    if type_name in _ENUMS:
        cls, wire = _ENUMS[type_name]
        if isinstance(value, str):
            if value in wire:
                return value
            member = cls.__members__.get(value)
            value = member if member is not None else value
        if isinstance(value, int) and not isinstance(value, bool):
            for wire_name, number in wire.items():
                if number == int(value):
                    return wire_name
            return int(value)
        return value
    if type_name in _HASHES and isinstance(value, dict):
        fields = _HASHES[type_name]
        return {k: _encode(fields[k], v) if k in fields else v for k, v in value.items()}
    return value


def _decode(type_name: str, value: typing.Any) -> typing.Any:
    """A value the server sent as a ``type_name``, as Python: enum values become members."""
    type_name = type_name.strip()
    item = _array_item_type(type_name)
    if item is not None and isinstance(value, list):
        return [_decode(item, v) for v in value]
    if type_name in _ENUMS:
        cls, wire = _ENUMS[type_name]
        number = wire.get(value) if isinstance(value, str) else value
        if isinstance(number, int) and not isinstance(number, bool):
            try:
                return cls(number)
            except ValueError:
                return number
        return value
    if type_name in _HASHES and isinstance(value, dict):
        fields = _HASHES[type_name]
        return {k: _decode(fields[k], v) if k in fields else v for k, v in value.items()}
    return value


class _ClientBase:
    """The connection and the JSON-RPC 2.0 exchange; the generated ``Client`` adds one method
    per remote function."""

    def __init__(
        self,
        url: str,
        timeout: typing.Optional[float] = 10.0,
        basic_auth: typing.Optional[typing.Tuple[str, str]] = None,
        ssl_context: typing.Optional[_ssl.SSLContext] = None,
    ) -> None:
        parts = _urlparse.urlsplit(url)
        scheme = parts.scheme.lower()
        self.url = url
        self._lock = _threading.Lock()
        self._next_id = 1
        if scheme == "unix":
            path = url.split("://", 1)[1]
            if not path:
                raise ValueError("%r: missing socket path" % url)
            self._transport: typing.Any = _LineTransport(_socket.AF_UNIX, path, timeout, None, None)
        elif scheme in ("tcp", "tls"):
            if not parts.hostname or parts.port is None:
                raise ValueError("%r: expected %s://HOST:PORT" % (url, scheme))
            context = None
            if scheme == "tls":
                context = ssl_context if ssl_context is not None else _ssl.create_default_context()
            self._transport = _LineTransport(
                _socket.AF_INET, (parts.hostname, parts.port), timeout, context, parts.hostname
            )
        elif scheme in ("http", "https"):
            if not parts.hostname:
                raise ValueError("%r: missing host" % url)
            path = parts.path if parts.path not in ("", "/") else "/rpc"
            if parts.query:
                path += "?" + parts.query
            host = parts.hostname
            port = parts.port if parts.port is not None else (443 if scheme == "https" else 80)
            if basic_auth is None and parts.username is not None:
                basic_auth = (_urlparse.unquote(parts.username), _urlparse.unquote(parts.password or ""))
            self._transport = _HttpTransport(scheme == "https", host, port, path, timeout, basic_auth, ssl_context)
        else:
            raise ValueError("%r: unsupported scheme (expected tcp, tls, unix, http or https)" % url)

    def call(self, method: str, *params: typing.Any) -> typing.Any:
        """Calls any remote function by its wire name, with positional parameters as they are
        (JSON-serializable values), and returns the result as decoded JSON.

        Raises:
            RpcError: the server answered with an error.
            ProtocolError: the answer is not a JSON-RPC reply.
            OSError: the connection failed (``ConnectionError``, ``socket.timeout``, ...).
        """
        with self._lock:
            request_id = self._next_id
            self._next_id += 1
            request = {"jsonrpc": "2.0", "method": method, "id": request_id}
            if params:
                request["params"] = list(params)
            body = _json.dumps(request, ensure_ascii=False, allow_nan=False).encode("utf-8")
            reply = self._transport.exchange(body, request_id)
        error = reply.get("error")
        if error is not None:
            raise RpcError._from_reply(error)
        if "result" not in reply:
            raise ProtocolError("reply without result: %r" % (reply,))
        return reply["result"]

    def _invoke(
        self, method: str, param_types: typing.Tuple[str, ...], params: typing.Tuple[typing.Any, ...], result_type: str
    ) -> typing.Any:
        values = [_encode(t, v) for t, v in zip(param_types, params)]
        return _decode(result_type, self.call(method, *values))

    def close(self) -> None:
        """Closes the connection (the next call opens a new one)."""
        with self._lock:
            self._transport.close()

    def __enter__(self) -> typing.Any:
        return self

    def __exit__(self, *exc: typing.Any) -> None:
        self.close()
