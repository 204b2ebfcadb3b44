"""A headless Streamlit client that speaks the browser's protocol, for load benchmarks.

One :class:`StreamlitClient` is one browser tab, without the browser: it fetches what a fresh
tab fetches over HTTP (the page, the scripts and styles that ``index.html`` names, the health
and host-config endpoints), opens the websocket ``/_stcore/stream`` with the ``streamlit``
subprotocol, and sends the ``rerun_script`` BackMsgs the frontend sends (checked against the
frames Chromium sends to Streamlit 1.67). A :meth:`~StreamlitClient.view` reads ForwardMsgs
until the run's ``script_finished`` and fetches the ``/media/...`` images the run shows, as the
browser does, so the server pays for everything a tab costs it.

Like the frontend it keeps a message cache (messages the server marks cacheable, forgotten after
two runs that did not use them) and sends its hashes, so the server answers repeated big
elements (plotly figures) with a reference; it keeps the URL's query string as the server
rewrites it, and each image URL is fetched once per tab (media are served ``Cache-Control:
public``). It does not run JavaScript, so it skips the ~45 lazily loaded element chunks a
browser also fetches, and it sends only the widget values it is told to (the server keeps the
others from the previous run).

HTTP goes over six keep-alive connections per tab, as Chromium opens per host, so files load
in parallel as they do in a browser. (Streamlit 1.67's own listening socket has no
``IPPROTO_TCP`` protocol number, so asyncio never sets ``TCP_NODELAY`` on its connections: a
response after the first on a kept-alive connection waits ~40 ms for the client's delayed ACK.
A browser pays that too; parallel connections are what hide it.)

It holds no state in common with other clients, so one thread per client is safe.
"""

from __future__ import annotations

import http.client
import queue
import re
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.sync.client import ClientConnection, connect

WidgetValue = bool | int | float | str
"""A widget value to send: ``bool`` for toggles, ``int``/``float`` for numbers, ``str`` for
the shown option of a selectbox or radio."""

MAX_CACHE_AGE = 2
"""Runs a cached message survives without being used (``global.maxCachedMessageAge``)."""

_ASSET = re.compile(r'(?:src|href)="\./(static/[^"]+)"')
_FINISHED_RUN = {
    ForwardMsg.FINISHED_SUCCESSFULLY,
    ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
}


class ViewError(RuntimeError):
    """The server closed the connection, or a view did not finish in time."""


@dataclass(slots=True)
class View:
    """What one run showed, and how long it took.

    Attributes:
        seconds: From sending the rerun to the run's end, its images fetched.
        errors: Exceptions, ``st.error`` alerts, failed image fetches, compile errors.
        texts: Headings, progress texts and alerts, in order (to check what a view showed).
        media: Images fetched for this view (not counting those this tab already had).
        media_bytes: Their size in bytes.
        messages: ForwardMsgs received.
        message_bytes: Their size on the wire (before websocket compression).
    """

    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    media: int = 0
    media_bytes: int = 0
    messages: int = 0
    message_bytes: int = 0

    def heading(self, prefix: str) -> str | None:
        """The first text that starts with ``prefix``, or ``None``."""
        return next((t for t in self.texts if t.startswith(prefix)), None)


@dataclass(slots=True)
class _Cached:
    msg: ForwardMsg
    last_run: int


class StreamlitClient:
    """One simulated browser tab on a Streamlit server.

    Args:
        base_url: The server, e.g. ``"http://127.0.0.1:8501"``.
        query_string: The URL's query string without ``?`` (``"model=resnet18"``).
        timeout: Seconds a view (and any one HTTP request) may take before it is an error.
    """

    def __init__(self, base_url: str, query_string: str = "", timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.query_string = query_string
        self.timeout = timeout
        self.pages: dict[str, str] = {}
        """Page url path (``""`` for the default page) and page name -> page script hash."""
        self.widget_ids: dict[str, str] = {}
        """User key of every widget seen -> its widget id."""
        self.page_hash = ""
        self.auto_rerun: tuple[float, str] | None = None
        """(interval s, fragment id) of the last ``run_every`` fragment the server asked for."""
        self._http = HttpConnections(self.base_url, timeout)
        self._ws: ClientConnection | None = None
        self._cache: dict[str, _Cached] = {}
        self._runs = 0
        self._fetched: set[str] = set()
        self._pending: list[Future[bytes]] = []

    # -- HTTP ---------------------------------------------------------------------------------

    def fetch_static(self) -> int:
        """Fetch what a fresh tab loads before it connects; returns the bytes read.

        Raises:
            ViewError: A request failed.
        """
        page = self._http.get("/")
        assets = ["/" + a for a in dict.fromkeys(_ASSET.findall(page.decode()))]
        assets += ["/_stcore/health", "/_stcore/host-config", "/favicon.png"]
        return len(page) + sum(len(f.result()) for f in [self._http.submit(a) for a in assets])

    # -- websocket ----------------------------------------------------------------------------

    def connect(self) -> None:
        """Open the session's websocket (the server starts no run until the first view)."""
        url = "ws" + self.base_url.removeprefix("http") + "/_stcore/stream"
        cookies = self._http.cookie_header()  # a load balancer's: to this tab's replica
        headers = {"Cookie": cookies} if cookies else None
        try:
            self._ws = connect(url, subprotocols=["streamlit"], max_size=None, legacy=True,
                               open_timeout=self.timeout, additional_headers=headers)  # fmt: skip
        except (OSError, TimeoutError) as error:
            raise ViewError(f"websocket: {error}") from error

    def close(self) -> None:
        """Close the websocket and the HTTP connection (the tab goes away)."""
        if self._ws is not None:
            self._ws.close()
            self._ws = None
        self._http.close()

    def view(
        self,
        page: str | None = None,
        press: str | None = None,
        values: Mapping[str, WidgetValue] | None = None,
    ) -> View:
        """Run the script as the browser would after a click, and wait for the run to end.

        Args:
            page: Url path or name of the page to switch to (``None``: stay on this page).
            press: User key of a button to press (it must have been seen in an earlier view).
            values: New values of widgets by user key (seen in an earlier view).

        Returns:
            The view; its ``errors`` say what went wrong on the page.

        Raises:
            ViewError: The connection closed or the run did not end within ``timeout``.
        """
        state = self._client_state()
        if page is not None:
            if page not in self.pages:
                raise ViewError(f"no page {page!r} in the app's navigation")
            state.page_script_hash = self.pages[page]
        widgets = dict(values or {})
        if press is not None:
            widgets[press] = True
        for key, value in widgets.items():
            if key not in self.widget_ids:
                raise ViewError(f"no widget with key {key!r} seen on this page")
            state.widget_states.widgets.append(
                _widget_state(self.widget_ids[key], value, trigger=key == press)
            )
        return self._run(state)

    def poll_fragment(self) -> View:
        """Rerun the ``run_every`` fragment once, as the browser's timer does."""
        if self.auto_rerun is None:
            raise ViewError("no auto-rerunning fragment on this page")
        state = self._client_state()
        state.fragment_id = self.auto_rerun[1]
        state.is_auto_rerun = True
        return self._run(state)

    def _client_state(self) -> ClientState:
        state = ClientState(query_string=self.query_string, page_script_hash=self.page_hash)
        state.cached_message_hashes.extend(self._cache)
        info = state.context_info
        info.timezone, info.locale, info.color_scheme = "UTC", "en-US", "light"
        info.url = self.base_url + "/" + (f"?{self.query_string}" if self.query_string else "")
        return state

    def _run(self, state: ClientState) -> View:
        if self._ws is None:
            raise ViewError("not connected")
        view = View()
        start = time.perf_counter()
        deadline = start + self.timeout
        try:
            self._ws.send(BackMsg(rerun_script=state).SerializeToString())
            while True:
                data = self._ws.recv(timeout=max(0.0, deadline - time.perf_counter()))
                msg = ForwardMsg.FromString(data)
                view.messages += 1
                view.message_bytes += len(data)
                if self._handle(msg, view):
                    break
        except TimeoutError as error:
            raise ViewError(f"no script_finished within {self.timeout:.0f} s") from error
        except Exception as error:  # websockets' ConnectionClosed and friends
            raise ViewError(f"websocket: {type(error).__name__}: {error}") from error
        self._await_media(view)
        view.seconds = time.perf_counter() - start
        return view

    def _handle(self, msg: ForwardMsg, view: View) -> bool:
        """Take in one ForwardMsg; True when it ends the run."""
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":
            cached = self._cache.get(msg.ref_hash)
            if cached is None:
                view.errors.append(f"reference to a message not in the cache: {msg.ref_hash}")
                return False
            cached.last_run = self._runs
            msg, kind = cached.msg, "delta"
        elif msg.metadata.cacheable:
            self._cache[msg.hash] = _Cached(msg, self._runs)
        if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self._element(msg.delta.new_element, view)
        elif kind in ("navigation", "new_session"):
            for app_page in getattr(msg, kind).app_pages:
                self.pages[app_page.url_pathname] = app_page.page_script_hash
                self.pages[app_page.page_name] = app_page.page_script_hash
            if kind == "new_session":
                self.page_hash = msg.new_session.page_script_hash
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "auto_rerun":
            self.auto_rerun = (msg.auto_rerun.interval, msg.auto_rerun.fragment_id)
        elif kind == "stop_auto_rerun":
            self.auto_rerun = None
        elif kind == "script_finished":
            return self._finished(msg.script_finished, view)
        return False

    def _finished(self, status: int, view: View) -> bool:
        if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
            view.errors.append("script finished with a compile error")
        if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            return False  # st.rerun() or a newer click: the next run follows at once
        self._runs += 1
        old = [h for h, c in self._cache.items() if self._runs - c.last_run > MAX_CACHE_AGE]
        for digest in old:
            del self._cache[digest]
        return status in _FINISHED_RUN or status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR

    def _element(self, element: Element, view: View) -> None:
        kind = element.WhichOneof("type")
        if kind is None:
            return
        part = getattr(element, kind)
        widget_id = getattr(part, "id", "")
        if isinstance(widget_id, str) and widget_id.startswith("$$ID-"):
            self.widget_ids[widget_id.split("-", 2)[2]] = widget_id
        if kind == "exception":
            view.errors.append(f"exception on the page: {part.type}: {part.message}")
        elif kind == "alert":
            view.texts.append(part.body)
            if part.format == Alert.ERROR:
                view.errors.append(f"st.error: {part.body}")
        elif kind == "heading":
            view.texts.append(part.body)
        elif kind == "progress":
            view.texts.append(part.text)
        elif kind == "imgs":
            for image in part.imgs:
                self._fetch_media(image.url)

    def _fetch_media(self, url: str) -> None:
        if url.startswith("/media/") and url not in self._fetched:  # data: URLs need no request
            self._fetched.add(url)  # a tab fetches each URL once
            self._pending.append(self._http.submit(url))

    def _await_media(self, view: View) -> None:
        """Wait for the images the run showed, as the browser loads them while it runs."""
        for future in self._pending:
            try:
                body = future.result()
            except ViewError as error:
                view.errors.append(str(error))
                continue
            view.media += 1
            view.media_bytes += len(body)
        self._pending.clear()


class HttpConnections:
    """Six keep-alive HTTP/1.1 connections to one server, as a browser keeps per host.

    Args:
        base_url: ``http://host:port``.
        timeout: Seconds any one request may take.
        size: Connections (and worker threads).
    """

    def __init__(self, base_url: str, timeout: float, size: int = 6) -> None:
        parts = urlsplit(base_url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._timeout = timeout
        self.cookies: dict[str, str] = {}
        """Cookies the server set (a load balancer's affinity cookie), sent back as a browser
        does: on every request and on the websocket."""
        self._idle: queue.LifoQueue[http.client.HTTPConnection] = queue.LifoQueue()
        self._pool = ThreadPoolExecutor(max_workers=size)

    def submit(self, path: str) -> Future[bytes]:
        """Fetch ``path`` on a free connection; the future raises :class:`ViewError`."""
        return self._pool.submit(self.get, path)

    def get(self, path: str) -> bytes:
        """The body of ``GET path`` (status 200), on an idle connection or a new one.

        A kept-alive connection the server has closed meanwhile (uvicorn closes them after 5 s
        idle) is replaced by a new one and the request sent again, as a browser does.

        Raises:
            ViewError: The request failed or did not answer 200.
        """
        try:
            connection, reused = self._idle.get_nowait(), True
        except queue.Empty:
            connection, reused = self._connect(), False
        try:
            status, body = self._request(connection, path)
        except (ConnectionError, http.client.RemoteDisconnected) as error:
            if not reused:
                raise ViewError(f"GET {path}: {type(error).__name__}: {error}") from error
            connection = self._connect()
            status, body = self._request(connection, path)
        self._idle.put(connection)
        if status != 200:
            raise ViewError(f"GET {path}: HTTP {status}")
        return body

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)

    def cookie_header(self) -> str:
        """The ``Cookie`` header for the next request ("" when the server set none)."""
        return "; ".join(f"{name}={value}" for name, value in dict(self.cookies).items())

    def _request(self, connection: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
        """Status and body of one GET; closes the connection and raises on failure."""
        try:
            cookies = self.cookie_header()
            connection.request("GET", path, headers={"Cookie": cookies} if cookies else {})
            response = connection.getresponse()
            for header in response.headers.get_all("Set-Cookie") or ():
                name, _, value = header.split(";", 1)[0].partition("=")
                self.cookies[name.strip()] = value.strip()
            return response.status, response.read()
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            if isinstance(error, ConnectionError | http.client.RemoteDisconnected):
                raise
            raise ViewError(f"GET {path}: {type(error).__name__}: {error}") from error

    def close(self) -> None:
        """Close every connection and stop the workers."""
        self._pool.shutdown(wait=True)
        while not self._idle.empty():
            self._idle.get_nowait().close()


def _widget_state(widget_id: str, value: WidgetValue, trigger: bool = False) -> WidgetState:
    """The WidgetState the frontend sends for ``value`` (a button press when ``trigger``)."""
    state = WidgetState(id=widget_id)
    if trigger:
        state.trigger_value = True
    elif isinstance(value, bool):
        state.bool_value = value
    elif isinstance(value, int):
        state.int_value = value
    elif isinstance(value, float):
        state.double_value = value
    else:
        state.string_value = value
    return state
