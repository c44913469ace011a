"""A real SMTP server for Galien's tests: accepts every message on 127.0.0.1:<port> and writes it,
with its envelope, to <dir>/<n>.eml. Started and stopped by galien_testkit::smtp."""
import os
import sys
import warnings

warnings.simplefilter("ignore", DeprecationWarning)
import asyncore  # noqa: E402  (Python 3.11: smtpd's event loop)
import smtpd  # noqa: E402


class Sink(smtpd.SMTPServer):
    def __init__(self, addr, directory):
        super().__init__(addr, None, decode_data=False)
        self.directory = directory
        self.count = 0

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        self.count += 1
        path = os.path.join(self.directory, f"{self.count:05}.eml")
        tmp = path + ".part"
        with open(tmp, "wb") as f:
            f.write(f"X-Envelope-From: {mailfrom}\r\n".encode())
            f.write(f"X-Envelope-To: {','.join(rcpttos)}\r\n".encode())
            f.write(data)
        os.rename(tmp, path)


def main():
    port = int(sys.argv[1])
    directory = sys.argv[2]
    Sink(("127.0.0.1", port), directory)
    print("ready", flush=True)
    asyncore.loop()


if __name__ == "__main__":
    main()
