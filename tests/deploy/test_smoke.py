# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""Smoke test of the deployment: docker/'s own scripts run on the host.

The roles of docker/entrypoint.sh (init, web, worker, cron) run as separate
processes with docker/trytond.conf, against the PostgreSQL of PGHOST,
PGPORT and PGUSER (default 127.0.0.1:5432, postgres) in a database of
their own, dropped at the end.  A second configuration file
(SHOP_CONFIG_LOCAL) holds only what differs from the containers: the
database server, the filestore, the web client folder and the port.

The steps run in order, each on the state the previous ones left.

The database made by the first init is kept as a template named after a
hash of the modules, docker/ and the installed packages
(shop_deploy_template_<hash>): a later run of the same code copies it
instead of creating the database again, and runs the second init on the
copy.  DEPLOY_CACHE=0 creates the database from scratch.
"""
import gettext
import json
import os
import shutil
import sys
import tempfile
import time
import unittest
import urllib.request

from deploy_tools import (
    DOCKER, PG_HOST, PG_PORT, PG_USER, RPC, Process, copy_database,
    database_exists, drop_database, drop_databases, fetch, fingerprint,
    free_port, load_script, pg_reachable, source_key, wait_for)

SECRET = 'deploy-channel-secret'
TOKEN = 'deploy-access-token'
INIT_TIMEOUT = 1800
READY_TIMEOUT = 300
WORK_TIMEOUT = 240
STOP_TIMEOUT = 60
INDEX = '<!-- shop deployment smoke test -->'
TEMPLATE = 'shop_deploy_template_'


def overlay(tmp, port):
    "The local configuration file of a process listening on port"
    path = os.path.join(tmp, 'local-%s.conf' % port)
    with open(path, 'w') as fp:
        fp.write(
            '[database]\n'
            'uri = postgresql://%s@%s:%s/\n'
            'path = %s\n'
            '[web]\n'
            'listen = 127.0.0.1:%s\n'
            'root = %s\n' % (
                PG_USER, PG_HOST, PG_PORT, os.path.join(tmp, 'filestore'),
                port, os.path.join(tmp, 'www')))
    return path


class DeploymentSmokeTest(unittest.TestCase):
    "The deployment's init, web, worker and cron processes"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not pg_reachable():
            message = ("PostgreSQL not reachable at %s:%s (user %s): "
                "deployment smoke test skipped" % (PG_HOST, PG_PORT, PG_USER))
            if os.environ.get('CI') == 'true':
                raise AssertionError(message + " (required with CI=true)")
            raise unittest.SkipTest(message)
        from trytond.modules.shop_crm.tests.test_line import FakeMessagingAPI
        cls.api = FakeMessagingAPI(token=TOKEN)
        cls.api.start()
        cls.tmp = tempfile.mkdtemp(prefix='shop-deploy-')
        cls.database = 'shop_deploy_%s' % os.getpid()
        drop_database(cls.database)
        os.makedirs(os.path.join(cls.tmp, 'www'))
        with open(os.path.join(cls.tmp, 'www', 'index.html'), 'w') as fp:
            fp.write(INDEX)
        cls.key = source_key()
        # The same for the template of the same code, which keeps the
        # password its first init set
        cls.password = 'deploy-' + cls.key[:12]
        cls.passfile = os.path.join(cls.tmp, 'admin_password')
        with open(cls.passfile, 'w') as fp:
            fp.write(cls.password + '\n')
        cls.port = free_port()
        cls.url = 'http://127.0.0.1:%s' % cls.port
        cls.processes = {}
        cls.timings = {}
        cls.state = {}
        cls.healthcheck = load_script('healthcheck')

    @classmethod
    def tearDownClass(cls):
        for process in cls.processes.values():
            process.kill()
        cls.api.stop()
        drop_database(cls.database)
        report = ['', 'Deployment smoke test (%s:%s, database %s):' % (
                PG_HOST, PG_PORT, cls.database)]
        for name, value in cls.timings.items():
            if isinstance(value, float):
                value = '%.1f s' % value
            report.append('  %-36s %s' % (name, value))
        print('\n'.join(report), file=sys.stderr)
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    # --- helpers -------------------------------------------------------------
    def env(self, port=None):
        env = {k: v for k, v in os.environ.items()
            if not k.startswith(('TRYTOND_', 'DB_', 'SHOP_', 'PYTHON'))}
        env.update({
                'PATH': os.pathsep.join([
                        os.path.dirname(sys.executable), env['PATH']]),
                'TRYTOND_CONFIG': str(DOCKER / 'trytond.conf'),
                'SHOP_CONFIG_LOCAL': overlay(self.tmp, port or self.port),
                'SHOP_DATABASE': self.database,
                'SHOP_PROCESSES': '1',
                'TRYTONPASSFILE': self.passfile,
                'SHOP_ADMIN_EMAIL': 'admin@example.com',
                })
        return env

    def start(self, name, role, port=None):
        process = Process(name, role, self.env(port), self.tmp)
        self.processes[name] = process
        return process

    def init(self, name):
        process = self.start(name, 'init')
        try:
            code = process.wait(INIT_TIMEOUT)
        finally:
            process.log.close()
        self.timings[name] = time.monotonic() - process.started
        self.assertEqual(code, 0, process.tail())
        del self.processes[name]
        return process

    def until_alive(self, process, predicate):
        "Poll predicate while the process runs"
        def check():
            if not process.alive():
                raise AssertionError(
                    "%s exited:\n%s" % (process.name, process.tail()))
            return predicate()
        return check

    def wait_web(self, process, url):
        def answers():
            try:
                return self.healthcheck.check(url)
            except OSError:
                return None
        wait_for(self.until_alive(process, answers), READY_TIMEOUT,
            message="%s answering" % process.name)
        self.timings['%s ready' % process.name] = process.mark_ready()

    def sql(self, query, *params):
        return fetch(self.database, query, *params)

    def event_state(self, event_id):
        rows = self.sql(
            "SELECT state FROM party_crm_line_event "
            "WHERE webhook_event_id = %s", event_id)
        return rows[0][0] if rows else None

    def queue_tasks(self, model, method, record_id):
        "The finished ir.queue tasks of the method for the record"
        return [(task_id, finished) for task_id, finished, instances in
            self.sql(
                "SELECT id, finished_at, data->'instances' FROM ir_queue "
                "WHERE data->>'model' = %s AND data->>'method' = %s",
                model, method)
            if record_id in (instances if isinstance(instances, list)
                else [instances])]

    def cron_logs(self, method):
        return self.sql(
            "SELECT l.id FROM ir_cron_log AS l "
            "JOIN ir_cron AS c ON c.id = l.cron WHERE c.method = %s", method)

    def post_webhook(self, events):
        from trytond.modules.shop_crm.tests.test_line import sign
        body = json.dumps({
                'destination': 'U' + '0' * 32, 'events': events}).encode()
        request = urllib.request.Request(
            '%s/%s/shop_crm/line/%s/webhook' % (
                self.url, self.database, self.state['identifier']),
            data=body, headers={
                'Content-Type': 'application/json',
                'X-Line-Signature': sign(body, SECRET),
                })
        start = time.monotonic()
        with urllib.request.urlopen(request, timeout=30) as response:
            status, data = response.status, json.load(response)
        return status, data, time.monotonic() - start

    # --- steps ---------------------------------------------------------------
    def create_database(self):
        "Run the first init, or copy the template a first init made"
        template = TEMPLATE + self.key
        if os.environ.get('DEPLOY_CACHE') != '0':
            drop_databases(TEMPLATE, keep=template)
            if database_exists(template):
                start = time.monotonic()
                copy_database(template, self.database)
                self.timings['init (create)'] = (
                    'copied from %s made by the first init of the same code '
                    'in %.1f s' % (template, time.monotonic() - start))
                return
        process = self.init('init (create)')
        self.assertIn('Creating %s' % self.database, process.text())
        if os.environ.get('DEPLOY_CACHE') != '0':
            copy_database(self.database, template)

    def test_1_init_twice(self):
        "init creates the database, a second init changes nothing"
        import pycountry
        self.create_database()
        first = fingerprint(self.database)
        process = self.init('init (again)')
        self.assertIn('Updating', process.text())
        self.assertIn('already imported', process.text())
        second = fingerprint(self.database)
        self.state['changed by the second init'] = sorted(
            t for t in first.keys() | second.keys()
            if first.get(t) != second.get(t))

        self.assertEqual(self.sql(
                "SELECT code FROM ir_lang WHERE translatable ORDER BY code"),
            [('en',), ('ja',)])
        self.assertEqual(self.sql(
                "SELECT state FROM ir_module WHERE name IN "
                "('shop_crm', 'shop_sale_insight') ORDER BY name"),
            [('activated',), ('activated',)])
        tokyo = pycountry.subdivisions.get(code='JP-13').name
        japanese = gettext.translation(
            'iso3166-2', pycountry.LOCALES_DIR, languages=['ja'])
        self.assertNotEqual(japanese.gettext(tokyo), tokyo)
        self.assertEqual(self.sql(
                "SELECT t.value FROM ir_translation AS t "
                "JOIN country_subdivision AS s ON s.id = t.res_id "
                "WHERE t.name = 'country.subdivision,name' AND t.lang = 'ja' "
                "AND s.code = 'JP-13'"),
            [(japanese.gettext(tokyo),)])
        self.assertEqual(
            self.sql("SELECT COUNT(*) FROM currency_currency "
                "WHERE code = 'JPY' AND digits = 0"), [(1,)])

    def test_1b_second_init_changes_nothing(self):
        "A second init changes no table"
        self.assertEqual(self.state['changed by the second init'], [])

    def test_2_web_serves_the_database(self):
        "trytond starts with the database and logs the admin in"
        process = self.start('trytond', 'web')
        self.wait_web(process, self.url)
        with urllib.request.urlopen(self.url + '/', timeout=10) as response:
            self.assertEqual(response.read().decode(), INDEX)
        rpc = RPC(self.url, self.database)
        user_id = rpc.login('admin', self.password)
        self.state['rpc'] = rpc

        jpy, = rpc.model('currency.currency', 'search',
            [['code', '=', 'JPY']], 0, None, None)
        party, = rpc.model('party.party', 'create', [{'name': "Tea Shop"}])
        company, = rpc.model('company.company', 'create', [{
                    'party': party, 'currency': jpy}])
        rpc.model('res.user', 'write', [user_id], {
                'companies': [['add', [company]]], 'company': company})
        # As docker/README.md says: the scheduled actions created before
        # the company must be registered for it; the two under test are
        # made due now.
        crons = rpc.model('ir.cron', 'search', [], 0, None, None)
        rpc.model('ir.cron', 'write', crons, {
                'companies': [['add', [company]]]})
        rpc.model('ir.cron', 'write', rpc.model('ir.cron', 'search', [
                    ['method', 'in', [
                            'party.crm.line.scenario|run',
                            'party.crm.engagement|compute']]],
                0, None, None), {'next_call': None})
        context = {'company': company}
        channel, = rpc.model('party.crm.line.channel', 'create', [{
                    'name': "Tea Shop", 'company': company,
                    'channel_secret': SECRET, 'access_token': TOKEN,
                    'api_url': self.api.url, 'create_inquiries': False,
                    }], context=context)
        (channel_values,) = rpc.model('party.crm.line.channel', 'read',
            [channel], ['identifier'], context=context)
        scenario, = rpc.model('party.crm.line.scenario', 'create', [{
                    'name': "Welcome", 'company': company,
                    'channel': channel, 'trigger': 'follow',
                    # every follower gets the steps: no holdout
                    'holdout_share': {'__class__': 'Decimal', 'decimal': '0'},
                    'steps': [['create', [{
                                    'sequence': 1,
                                    'delay': {
                                        '__class__': 'timedelta',
                                        'seconds': 0},
                                    'text': "Welcome {name}!",
                                    }]]],
                    }], context=context)
        rpc.model('party.crm.line.scenario', 'start', [scenario],
            context=context)
        self.state.update(company=company, context=context,
            identifier=channel_values['identifier'])

    def test_3_webhook_processed_by_worker(self):
        "A new friend is answered at once and processed by the worker"
        from trytond.modules.shop_crm.tests.test_line import event, user_id
        uid = user_id()
        follow = event('follow', uid)
        event_id = follow['webhookEventId']
        # LINE's Verify button first, as when the channel is set up
        self.assertEqual(self.post_webhook([])[:2], (200, {}))
        status, data, seconds = self.post_webhook([follow])
        self.assertEqual((status, data), (200, {}))
        self.timings['webhook answered'] = seconds
        # No worker runs yet: the web process stored the event, queued it
        # and did not process it.
        self.assertEqual(self.event_state(event_id), 'pending')
        time.sleep(3)
        self.assertEqual(self.event_state(event_id), 'pending')
        (db_event_id,), = self.sql(
            "SELECT id FROM party_crm_line_event WHERE webhook_event_id = %s",
            event_id)
        self.assertEqual(
            [f for _, f in self.queue_tasks(
                    'party.crm.line.event', 'process', db_event_id)],
            [None])

        process = self.start('worker', 'worker')
        wait_for(self.until_alive(process, lambda: self.sql(
                    "SELECT 1 FROM pg_stat_activity WHERE datname = %s "
                    "AND application_name = 'shop-worker' "
                    "AND query ILIKE %s", self.database, '%ir_queue%')),
            READY_TIMEOUT, message="worker pulling the queue")
        self.timings['worker ready'] = process.mark_ready()
        wait_for(self.until_alive(
                process, lambda: self.event_state(event_id) == 'done'),
            WORK_TIMEOUT, message="event done")
        self.timings['webhook event done after worker start'] = (
            time.monotonic() - process.started)

        (task_id, finished), = self.queue_tasks(
            'party.crm.line.event', 'process', db_event_id)
        self.assertIsNotNone(finished)
        self.assertIn('<Task %s@%s>' % (task_id, self.database),
            process.text())
        self.timings['webhook processed by'] = (
            'trytond-worker (pid %s, queue task %s)' % (process.pid, task_id))
        name = 'Taro %s' % uid[-4:]

        def friend():
            return self.sql(
                "SELECT p.id, p.name FROM party_party AS p "
                "JOIN party_contact_mechanism AS c ON c.party = p.id "
                "WHERE c.type = 'line' AND c.value = %s", uid)
        # The display name is fetched by the task queued after the event's
        wait_for(self.until_alive(
                process, lambda: friend()[0][1] == name),
            WORK_TIMEOUT, message="friend named")
        (party, _), = friend()
        (channel,), = self.sql(
            "SELECT id FROM party_crm_line_channel WHERE identifier = %s",
            self.state['identifier'])
        self.assertEqual(
            [f is not None for _, f in self.queue_tasks(
                    'party.crm.line.channel', 'fetch_line_names', channel)],
            [True])
        self.assertIn('/v2/bot/profile/%s' % uid,
            [r['path'] for r in self.api.requests])
        self.assertEqual(self.sql(
                "SELECT state FROM party_crm_line_scenario_enrollment "
                "WHERE party = %s", party), [('running',)])
        self.state.update(party=party, party_name=name, uid=uid)

    def test_4_scenario_step_sent_by_cron(self):
        "The cron process sends the due step to the fake LINE API"
        rpc = self.state['rpc']
        party = self.state['party']
        rpc.model('party.party', 'write', [party],
            {'marketing_consent': True}, context=self.state['context'])
        process = self.start('cron', 'cron')
        wait_for(self.until_alive(
                process, lambda: 'cron started for' in process.text()),
            READY_TIMEOUT, message="cron running")
        self.timings['cron ready'] = process.mark_ready()

        def sent():
            return self.sql(
                "SELECT id, state FROM party_crm_line_message "
                "WHERE party = %s AND state = 'sent'", party)
        (message, _), = wait_for(self.until_alive(process, sent),
            WORK_TIMEOUT, message="scenario step sent")
        self.timings['scenario step sent after cron start'] = (
            time.monotonic() - process.started)
        self.assertTrue(self.cron_logs('party.crm.line.scenario|run'))
        post, = [r for r in self.api.posts()
            if r['body'].get('to') == self.state['uid']]
        self.assertEqual(post['path'], '/v2/bot/message/push')
        self.assertEqual(post['body']['messages'], [{
                    'type': 'text',
                    'text': 'Welcome %s!' % self.state['party_name']}])
        tasks = self.queue_tasks('party.crm.line.message', 'send', message)
        self.timings['scenario step run by'] = 'trytond-cron (pid %s)' % (
            process.pid)
        self.timings['scenario step delivered by'] = (
            'trytond-worker (queue task %s)' % tasks[0][0] if tasks
            else 'trytond-cron')

    def test_5_engagement_cron(self):
        "The engagement cron computes the new friend's engagement"
        party, company = self.state['party'], self.state['company']
        process = self.processes['cron']

        def computed():
            return self.sql(
                "SELECT computed_at, orders, engagement_score "
                "FROM party_crm_engagement "
                "WHERE party = %s AND company = %s", party, company)
        before = computed()
        logs = len(self.cron_logs('party.crm.engagement|compute'))
        # Made due now, as an administrator would with Run Once; the cron
        # process looks for due tasks every minute.
        rpc = self.state['rpc']
        cron, = rpc.model('ir.cron', 'search', [
                ['method', '=', 'party.crm.engagement|compute']],
            0, None, None)
        rpc.model('ir.cron', 'write', [cron], {'next_call': None})
        start = time.monotonic()
        wait_for(self.until_alive(process, lambda: (
                    len(self.cron_logs('party.crm.engagement|compute'))
                    > logs and computed() != before and computed())),
            WORK_TIMEOUT, message="engagement computed again")
        self.timings['engagement computed after made due'] = (
            time.monotonic() - start)
        (computed_at, orders, score), = computed()
        # A friend without sales, with the follow and the step's message
        self.assertEqual(orders, 0)
        self.assertGreater(score, 0)
        (next_call,), = self.sql(
            "SELECT next_call FROM ir_cron WHERE id = %s", cron)
        self.assertIsNotNone(next_call)
        tasks = [t for t, in self.sql(
                "SELECT id FROM ir_queue WHERE data->>'model' = "
                "'company.company' AND data->>'method' = "
                "'compute_engagement' AND finished_at IS NOT NULL")]
        self.assertTrue(tasks)
        self.timings['engagement computed by'] = (
            'trytond-worker (queue tasks %s, queued by trytond-cron)'
            % ', '.join(map(str, tasks)))
        self.assertEqual(self.sql(
                "SELECT COUNT(*) FROM ir_error"), [(0,)])

    def test_6_second_web_process(self):
        "A second web process on another port serves the same database"
        port = free_port()
        url = 'http://127.0.0.1:%s' % port
        process = self.start('trytond (second)', 'web', port=port)
        self.wait_web(process, url)
        # The session opened on the first process is valid on the second:
        # sessions are in the database.
        rpc = RPC(url, self.database)
        rpc.session = self.state['rpc'].session
        (party,) = rpc.model('party.party', 'read', [self.state['party']],
            ['name'], context=self.state['context'])
        self.assertEqual(party['name'], self.state['party_name'])

    def test_7_stop_cleanly(self):
        "Every process ends at SIGINT, with its children, without error"
        for name, process in list(self.processes.items()):
            with self.subTest(process=name):
                result = process.stop(STOP_TIMEOUT)
                self.assertIsNotNone(result, "%s did not stop" % name)
                code, seconds = result
                self.timings['%s stopped' % name] = (
                    '%.1f s, exit code %s' % (seconds, code))
                self.assertFalse(process.group_alive())
                self.assertNotIn('Traceback', process.text())
        self.assertEqual(self.sql(
                "SELECT application_name FROM pg_stat_activity "
                "WHERE datname = %s AND pid != pg_backend_pid()",
                self.database), [])
