# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Helpers of the deployment tests: PostgreSQL, the processes, JSON-RPC."""
import base64
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
from psycopg import sql

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / 'docker'
ENTRYPOINT = DOCKER / 'entrypoint.sh'

PG_HOST = os.environ.get('PGHOST') or '127.0.0.1'
PG_PORT = int(os.environ.get('PGPORT') or 5432)
PG_USER = os.environ.get('PGUSER') or 'postgres'


def connect(dbname='postgres', **kwargs):
    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname=dbname,
        connect_timeout=5, autocommit=True, **kwargs)


def pg_reachable():
    try:
        with connect() as conn:
            conn.execute('SELECT 1')
        return True
    except psycopg.Error:
        return False


def drop_database(name):
    with connect() as conn:
        conn.execute(sql.SQL('DROP DATABASE IF EXISTS {} WITH (FORCE)').format(
                sql.Identifier(name)))


def database_exists(name):
    with connect() as conn:
        return bool(conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s",
                (name,)).fetchone())


def copy_database(source, target):
    "Create target as a copy of source (no connection may use source)"
    drop_database(target)
    with connect() as conn:
        conn.execute(sql.SQL('CREATE DATABASE {} TEMPLATE {}').format(
                sql.Identifier(target), sql.Identifier(source)))


def drop_databases(prefix, keep):
    "Drop the databases whose name starts with prefix, except keep"
    with connect() as conn:
        names = [n for n, in conn.execute(
                "SELECT datname FROM pg_database "
                "WHERE starts_with(datname, %s) AND datname != %s",
                (prefix, keep))]
    for name in names:
        drop_database(name)


def source_key():
    """Return a hash of what the database init creates depends on

    The modules, docker/'s scripts and trytond.conf, the installed
    distributions (but the project's own, already in the modules) and
    Python.
    """
    digest = hashlib.sha256()
    paths = [p for p in sorted((REPO / 'modules').rglob('*'))
        if '__pycache__' not in p.parts]
    paths += sorted(p for p in DOCKER.iterdir()
        if p.suffix in {'.sh', '.py', '.conf'})
    for path in paths:
        if path.is_file():
            digest.update(str(path.relative_to(REPO)).encode())
            digest.update(path.read_bytes())
    distributions = sorted(
        '%s==%s' % (d.metadata['Name'], d.version)
        for d in importlib.metadata.distributions()
        if not d.metadata['Name'].startswith('shop'))
    digest.update('\n'.join(distributions + [sys.version]).encode())
    return digest.hexdigest()[:16]


def fetch(dbname, query, *params):
    with connect(dbname) as conn:
        return conn.execute(query, params).fetchall()


def fingerprint(dbname):
    "Return {table: (rows, md5 of the rows)} of every table, every column"
    result = {}
    with connect(dbname) as conn:
        tables = [t for t, in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "ORDER BY tablename")]
        for table in tables:
            result[table] = conn.execute(sql.SQL(
                    "SELECT COUNT(*), md5(string_agg(md5(t::text), '' "
                    "ORDER BY md5(t::text))) FROM {table} AS t").format(
                    table=sql.Identifier(table))).fetchone()
    return result


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def load_script(name):
    "Import a Python script of docker/ as a module"
    spec = importlib.util.spec_from_file_location(
        'shop_docker_' + name, DOCKER / ('%s.py' % name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wait_for(predicate, timeout, interval=0.5, message="condition"):
    "Poll predicate until it returns a true value; return it"
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError("%s not met within %ss" % (message, timeout))
        time.sleep(interval)


def _restore_sigint():
    # A shell started in the background ignores SIGINT and so would its
    # children: the servers stop at SIGINT, as compose.yaml stops them.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Process:
    "One role of docker/entrypoint.sh run on the host"

    def __init__(self, name, role, env, logdir):
        self.name = name
        self.role = role
        self.log_path = Path(logdir) / ('%s.log' % name)
        self.log = open(self.log_path, 'w')
        self.started = time.monotonic()
        self.popen = subprocess.Popen(
            [str(ENTRYPOINT), role], env=env, cwd=logdir,
            stdin=subprocess.DEVNULL, stdout=self.log,
            stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_restore_sigint)
        self.ready_after = None

    @property
    def pid(self):
        return self.popen.pid

    def text(self):
        return self.log_path.read_text(errors='replace')

    def tail(self, lines=30):
        return '\n'.join(self.text().splitlines()[-lines:])

    def alive(self):
        return self.popen.poll() is None

    def mark_ready(self):
        self.ready_after = time.monotonic() - self.started
        return self.ready_after

    def wait(self, timeout):
        return self.popen.wait(timeout=timeout)

    def group_alive(self):
        "Whether a process of its group (its pool children) still runs"
        try:
            os.killpg(self.popen.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def stop(self, timeout):
        "Send SIGINT; return (exit code, seconds), None if it did not end"
        start = time.monotonic()
        if self.alive():
            self.popen.send_signal(signal.SIGINT)
        try:
            code = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        end = time.monotonic() + 10
        while self.group_alive() and time.monotonic() < end:
            time.sleep(0.2)
        return code, time.monotonic() - start

    def kill(self):
        "Last resort of the clean-up: kill the whole group"
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.log.close()


class RPCError(Exception):
    pass


class RPC:
    "JSON-RPC to a trytond web process, as the web client calls it"

    def __init__(self, url, database):
        self.url = url
        self.database = database
        self.session = None

    def login(self, login, password):
        user_id, key = self.call(
            'common.db.login', login, {'password': password}, 'en')[:2]
        self.session = base64.b64encode(
            ('%s:%s:%s' % (login, user_id, key)).encode()).decode()
        return user_id

    def call(self, method, *params):
        request = urllib.request.Request(
            '%s/%s/rpc/' % (self.url, self.database),
            data=json.dumps({
                    'id': 1, 'method': method, 'params': params}).encode(),
            headers={'Content-Type': 'application/json'})
        if self.session:
            request.add_header('Authorization', 'Session ' + self.session)
        with urllib.request.urlopen(request, timeout=120) as response:
            data = json.load(response)
        if data.get('error'):
            raise RPCError(data['error'])
        return data['result']

    def model(self, model, method, *params, context=None):
        return self.call(
            'model.%s.%s' % (model, method), *params, context or {})
