"""`collectbridge demo` smoke test: it starts, installs and onboards two companies over HTTP,
their claims appear in the collection simulator, and Ctrl-C stops it cleanly within 10 s."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from tests.fixtures.conditions import eventually
from tests.integration.pages.support import sign_in


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_the_demo_syncs_two_companies_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    out = tmp_path / "demo.out"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    ports = [str(free_port()) for _ in range(3)]
    args = [sys.executable, "-m", "plugin.cli", "demo", "--invoices", "300", "--reset"]
    args += ["--port", ports[0], "--economic-port", ports[1], "--collection-port", ports[2]]
    with out.open("wb") as output:
        demo = subprocess.Popen(  # noqa: ASYNC220 - starting it does not block; waiting is threaded
            args, cwd=tmp_path, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:

        def claims_seen() -> bool:
            lines = re.findall(r"economic:\d+: (\d+) debtors, (\d+) claims", out.read_text())
            return len(lines) >= 2 and int(lines[-2][1]) > 0

        await eventually(claims_seen, within=90, step=0.2, explain=out.read_text)
        text = out.read_text()
        assert text.count("onboarded:") == 2
        assert re.search(r"curl -H 'Authorization: Bearer cbt_[\w-]+' http://127\.0\.0\.1", text)
        assert "install the third:" in text
        email = re.search(r"sign in as +(\S+)", text)
        password = re.search(r"with the password +(\S+)", text)
        assert email and password, text
        # The printed login opens the overview, every installed company on it.
        url = f"http://127.0.0.1:{ports[0]}"
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            signed = await sign_in(browser, url, email.group(1), password.group(1))
            assert signed.url.path == "/settings", signed.text
            assert len(re.findall(r'<tr data-agreement="\d+"', signed.text)) == 2
        assert (tmp_path / "var" / "demo" / "demo.db").exists()
    finally:
        demo.send_signal(signal.SIGINT)
        started = time.monotonic()
        code = await asyncio.to_thread(demo.wait, 15)
        took = time.monotonic() - started
    assert code == 0, out.read_text()
    assert took < 10, f"Ctrl-C took {took:.1f} s"
