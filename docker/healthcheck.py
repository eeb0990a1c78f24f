# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Exit 0 when the local trytond answers RPC and serves the web client.

    healthcheck.py -c FILE [-c FILE] [--url URL]

The URL defaults to the first address of [web] listen, on 127.0.0.1 when it
listens on every address.
"""
import argparse
import json
import sys
import urllib.request

from trytond import config

TIMEOUT = 5


def default_url():
    host, port = next(config.parse_listen(config.get('web', 'listen')))
    if host in {'', '0.0.0.0', '::'}:
        host = '127.0.0.1'
    return 'http://%s:%s' % (host, port)


def check(url):
    request = urllib.request.Request(
        url + '/rpc/',
        data=json.dumps({
                'method': 'common.server.version', 'params': [], 'id': 1,
                }).encode(),
        headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        version = json.load(response)['result']
    with urllib.request.urlopen(url + '/', timeout=TIMEOUT) as response:
        response.read()
    return version


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('-c', '--config', dest='configfiles',
        action='append', required=True, metavar='FILE')
    parser.add_argument('--url')
    options = parser.parse_args()
    config.update_etc(options.configfiles)
    try:
        version = check(options.url or default_url())
    except Exception as exception:
        sys.exit("unhealthy: %s" % exception)
    print("trytond %s" % version)


if __name__ == '__main__':
    main()
