import socket

import pytest

from lb.config.model import Bind, Config, Proxy, Source
from lb.master.listeners import ListenerSet

SRC = Source("t.cfg", 1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(*ports: int) -> Config:
    binds = [Bind(host="127.0.0.1", port=p, source=SRC) for p in ports]
    return Config(proxies=[Proxy(name="fe", kind="frontend", source=SRC, binds=binds)])


def test_one_socket_per_bind_and_slot_and_reuse_on_reload() -> None:
    p1, p2 = _free_port(), _free_port()
    ls = ListenerSet()
    try:
        first = _config(p1)
        assert len(ls.ensure(first, 2)) == 2
        fds = {slot: fd for _fe, _k, fd in ls.fds_for(first, 0) for slot in [0]}
        # the same bind line on reload keeps its sockets; a new line opens new ones
        second = _config(p1, p2)
        opened = ls.ensure(second, 2)
        assert sorted(k[0] for k in opened) == [second.proxies[0].binds[1].key()] * 2
        assert ls.fds_for(second, 0)[0][2] == fds[0]
        # once the old generation is gone, unused sockets close
        ls.prune([(_config(p2), 2)])
        assert len(ls.sockets) == 2
        with socket.socket() as c:
            assert c.connect_ex(("127.0.0.1", p1)) != 0  # nobody listens on p1 any more
    finally:
        ls.close_all()


def test_failed_bind_rolls_back_everything_opened() -> None:
    p1 = _free_port()
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()  # no SO_REUSEPORT: nobody may join this port
    p_busy = blocker.getsockname()[1]
    ls = ListenerSet()
    try:
        with pytest.raises(OSError):
            ls.ensure(_config(p1, p_busy), 2)
        assert ls.sockets == {}
    finally:
        blocker.close()
        ls.close_all()
