#!/usr/bin/python3
"""A registry that lies: an HTTP proxy on 127.0.0.1 in front of a real
registry, which answers some requests wrongly as its rules file says.

    lying-registry.py PORT_FILE UPSTREAM RULES_FILE LOG

Listens on a free loopback port (written to PORT_FILE once it listens) and
forwards every request to UPSTREAM (host:port, plain http). RULES_FILE is
read at each request: a JSON list of rules, the first that matches is used:

    {"method": "GET", "path": "/blobs/sha256:", "mode": "drip",
     "times": 2, "arg": 1.5, "retry_after": "1", "on_range": "refuse"}

method ("*" or omitted: any) and path (a substring of the request path)
select requests; times (omitted or -1: always) is how many of them the rule
spoils before it lets them through. Modes:

  status      answer arg (e.g. 503) with a registry error body, and a
              Retry-After header when retry_after is set
  truncate    the upstream answer with its full Content-Length, but only
              arg (a fraction, 0.5) of its body, then the connection closed;
              a Range request is then refused with 416 (on_range "refuse"),
              answered from the start as if Range were unknown ("ignore"),
              or passed on ("pass", the default)
  drip        the upstream answer one byte every arg seconds: the body when
              there is one, else the status line and headers
  reset       a connection reset (TCP RST): after the headers and arg
              (a fraction) of a GET's body; for a request with a body, as
              soon as its headers are read
  redirect    307 to the same URL, for ever
  bad-digest  a manifest whose first layer digest is not a digest
  huge        a 200 body of arg bytes of spaces (Content-Length given
              unless arg is negative: then as many until the client leaves)
  short/long  the upstream body with 10 bytes cut / 10 bytes added, and a
              Content-Length that matches what is sent
  answer      arg as the whole answer (a string as it is, any other JSON
              value dumped), with status code (default 200) and the rule's
              headers ({"Link": "..."}): a tag list's pages, a token

Every request is logged to LOG as "METHOD PATH MODE".
"""
import http.client
import json
import os
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT_FILE, UPSTREAM, RULES, LOG = sys.argv[1:5]
lock = threading.Lock()
state = {"key": None, "used": {}}


def pick(method, path, has_range):
    """The rule for this request, or None; spends one of its times."""
    try:
        st = os.stat(RULES)
        with open(RULES) as f:
            rules = json.load(f)
        key = (st.st_mtime_ns, st.st_size, st.st_ino)
    except (OSError, ValueError):
        return None
    with lock:
        if state["key"] != key:
            state["key"], state["used"] = key, {}
        for i, r in enumerate(rules):
            if r.get("method", "*") not in ("*", method):
                continue
            if r.get("path", "") not in path:
                continue
            times = r.get("times", -1)
            used = state["used"].get(i, 0)
            if times >= 0 and used >= times:
                continue
            # A truncated transfer's Range resume is the same transfer.
            if not (has_range and r.get("mode") == "truncate"):
                state["used"][i] = used + 1
            return r
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def log(self, mode):
        with lock, open(LOG, "a") as f:
            f.write("%s %s %s\n" % (self.command, self.path, mode))

    def body_in(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def upstream(self, body, drop_range=False):
        """The upstream answer: (status, reason, [(header, value)], body)."""
        c = http.client.HTTPConnection(UPSTREAM, timeout=60)
        hdrs = {}
        for k, v in self.headers.items():
            if k.lower() in ("connection", "content-length", "transfer-encoding"):
                continue
            if drop_range and k.lower() == "range":
                continue
            hdrs[k] = v
        if body or self.command in ("PUT", "PATCH", "POST"):
            hdrs["Content-Length"] = str(len(body))
        c.request(self.command, self.path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        out = [(k, v) for k, v in r.getheaders()
               if k.lower() not in ("connection", "transfer-encoding", "content-length")]
        c.close()
        return r.status, r.reason, out, data

    def head_bytes(self, status, reason, headers, length):
        lines = ["HTTP/1.1 %d %s" % (status, reason)]
        lines += ["%s: %s" % (k, v) for k, v in headers]
        if length is not None:
            lines.append("Content-Length: %d" % length)
        lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def send_all(self, status, reason, headers, data):
        self.wfile.write(self.head_bytes(status, reason, headers, len(data)))
        if self.command != "HEAD":
            self.wfile.write(data)
        self.close_connection = True

    def rst(self):
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def handle_any(self):
        has_range = "Range" in self.headers
        rule = pick(self.command, self.path, has_range)
        mode = rule["mode"] if rule else "pass"
        self.log(mode)
        arg = rule.get("arg") if rule else None
        try:
            if mode == "status":
                code = {400: "MANIFEST_INVALID", 403: "DENIED", 429: "TOOMANYREQUESTS",
                        500: "UNKNOWN"}.get(arg, "UNAVAILABLE")
                err = {"errors": [{"code": code,
                                   "message": "the lying registry says %d" % arg}]}
                hdrs = [("Content-Type", "application/json")]
                if rule.get("retry_after"):
                    ra = rule["retry_after"]
                    if ra.startswith("+"):  # an HTTP date that many seconds ahead
                        ra = time.strftime("%a, %d %b %Y %H:%M:%S GMT",
                                           time.gmtime(time.time() + int(ra[1:])))
                    hdrs.append(("Retry-After", ra))
                self.body_in()
                self.send_all(arg, "Lying", hdrs, json.dumps(err).encode())
                return
            if mode == "answer":
                self.body_in()
                data = arg if isinstance(arg, str) else json.dumps(arg)
                hdrs = [("Content-Type", "application/json")]
                hdrs += list(rule.get("headers", {}).items())
                self.send_all(rule.get("code", 200), "Lying", hdrs, data.encode())
                return
            if mode == "redirect":
                self.body_in()
                self.send_all(307, "Temporary Redirect", [("Location", self.path)], b"")
                return
            if mode == "huge":
                self.body_in()
                hdrs = [("Content-Type", "application/vnd.oci.image.manifest.v1+json")]
                n = int(arg)
                self.wfile.write(self.head_bytes(200, "OK", hdrs, n if n >= 0 else None))
                sent, chunk = 0, b" " * 65536
                while n < 0 or sent < n:
                    self.wfile.write(chunk)
                    sent += len(chunk)
                self.close_connection = True
                return
            if mode == "reset" and self.command in ("PUT", "PATCH", "POST"):
                self.rst()
                return
            body = self.body_in()
            if mode == "truncate" and has_range and rule.get("on_range") == "refuse":
                self.send_all(416, "Range Not Satisfiable", [], b"")
                return
            drop_range = mode == "truncate" and has_range and rule.get("on_range") == "ignore"
            status, reason, hdrs, data = self.upstream(body, drop_range)
            if mode == "truncate" and not (has_range and rule.get("on_range", "pass") == "pass"):
                self.wfile.write(self.head_bytes(status, reason, hdrs, len(data)))
                self.wfile.write(data[:int(len(data) * float(arg or 0.5))])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            if mode == "reset":
                self.wfile.write(self.head_bytes(status, reason, hdrs, len(data)))
                self.wfile.write(data[:int(len(data) * float(arg or 0.3))])
                self.rst()
                return
            if mode == "drip":
                head = self.head_bytes(status, reason, hdrs, len(data))
                slow = data if data and self.command != "HEAD" else head
                if slow is data:
                    self.wfile.write(head)
                for i in range(len(slow)):
                    self.wfile.write(slow[i:i + 1])
                    self.wfile.flush()
                    time.sleep(float(arg or 1.5))
                self.close_connection = True
                return
            if mode == "bad-digest" and status == 200:
                doc = json.loads(data)
                doc["layers"][0]["digest"] = "sha256:not-a-digest"
                data = json.dumps(doc).encode()
                hdrs = [(k, v) for k, v in hdrs if k.lower() != "docker-content-digest"]
            elif mode == "short":
                data = data[:-10]
            elif mode == "long":
                data = data + b"0123456789"
            self.send_all(status, reason, hdrs, data)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
srv.serve_forever()
