"""A quiet local HTTP file server handler that records the paths asked for, for the
downloader tests (loopback only)."""

from http.server import SimpleHTTPRequestHandler


class RecordingHandler(SimpleHTTPRequestHandler):
    requests: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).requests.append(self.path)
        return super().do_GET()
