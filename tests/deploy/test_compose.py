# This file is part of the shop modules.  The COPYRIGHT file at the top level
# of this repository contains the full copyright notices and license terms.
"""docker/compose.yaml and docker/Dockerfile, checked without Docker.

The compose file is validated against the Compose Specification schema
vendored in compose-spec.json (see README.md of this folder); every service,
file and script it names is checked to exist, and the Dockerfile to copy
and run the same scripts.
"""
import configparser
import copy
import hashlib
import json
import re
import shlex
import unittest
from pathlib import Path

import jsonschema
import yaml

from deploy_tools import DOCKER, REPO

HERE = Path(__file__).resolve().parent
SERVICES = {'postgres', 'init', 'trytond', 'worker', 'cron', 'proxy'}
ROLES = {'init': 'init', 'trytond': 'web', 'worker': 'worker', 'cron': 'cron'}


def load_compose():
    with open(DOCKER / 'compose.yaml') as fp:
        return yaml.safe_load(fp)


def schema_errors(document):
    with open(HERE / 'compose-spec.json') as fp:
        schema = json.load(fp)
    validator = jsonschema.validators.validator_for(schema)(schema)
    return sorted(
        '/'.join(map(str, e.absolute_path)) + ': ' + e.message
        for e in validator.iter_errors(document))


def dockerfile_instructions():
    "The (instruction, arguments) of docker/Dockerfile, lines joined"
    text = (DOCKER / 'Dockerfile').read_text()
    text = re.sub(r'\\\n', ' ', text)
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith('#'):
            instruction, _, arguments = line.partition(' ')
            instructions.append((instruction.upper(), arguments.strip()))
    return instructions


def dockerfile_copies():
    "Map each file the Dockerfile copies from the checkout to its target"
    copies = {}
    for instruction, arguments in dockerfile_instructions():
        if instruction != 'COPY' or '--from=' in arguments:
            continue
        *sources, target = shlex.split(arguments)
        for source in sources:
            if target.endswith('/') or len(sources) > 1:
                copies[source] = target.rstrip('/') + '/' + Path(source).name
            else:
                copies[source] = target
    return copies


def entrypoint_roles():
    "The roles handled by the case statement of docker/entrypoint.sh"
    text = (DOCKER / 'entrypoint.sh').read_text()
    return set(re.findall(r'^    ([a-z]+)\)$', text, re.MULTILINE))


def image_services(compose):
    return {n: s for n, s in compose['services'].items() if 'build' in s}


class ComposeSchemaTestCase(unittest.TestCase):
    "The compose file against the Compose Specification"

    def test_valid(self):
        "compose.yaml validates against the Compose Specification schema"
        self.assertEqual(schema_errors(load_compose()), [])

    def test_schema_source(self):
        "The vendored schema is the one its source note names"
        digest = hashlib.sha256(
            (HERE / 'compose-spec.json').read_bytes()).hexdigest()
        self.assertIn(digest, (HERE / 'README.md').read_text())

    def test_invalid_is_refused(self):
        "The schema refuses an unknown key and a wrong type"
        for change, path in [
                (lambda c: c['services']['worker'].update(comand=['x']),
                    'services/worker'),
                (lambda c: c['services']['postgres'].update(
                        healthcheck={'test': {'cmd': 'pg_isready'}}),
                    'services/postgres/healthcheck/test'),
                ]:
            with self.subTest(path=path):
                compose = copy.deepcopy(load_compose())
                change(compose)
                errors = schema_errors(compose)
                self.assertTrue(
                    any(e.startswith(path + ':') for e in errors), errors)


class ComposeServicesTestCase(unittest.TestCase):
    "What the compose file names exists"

    @classmethod
    def setUpClass(cls):
        cls.compose = load_compose()
        cls.services = cls.compose['services']

    def test_services(self):
        "The deployment's services are there"
        self.assertEqual(set(self.services), SERVICES)
        postgres = self.services['postgres']
        self.assertEqual(postgres['image'], 'postgres:15')
        self.assertIn('healthcheck', postgres)
        self.assertTrue(any(v.startswith('postgres:/var/lib/postgresql/data')
                for v in postgres['volumes']))
        self.assertEqual(self.services['proxy']['profiles'], ['proxy'])
        self.assertIn('healthcheck', self.services['trytond'])

    def test_references(self):
        "Every service, volume, secret and config named is declared"
        for name, service in self.services.items():
            with self.subTest(service=name):
                self.assertLessEqual(
                    set(service.get('depends_on', {})), set(self.services))
                self.assertLessEqual(
                    {s if isinstance(s, str) else s['source']
                        for s in service.get('secrets', [])},
                    set(self.compose['secrets']))
                self.assertLessEqual(
                    {c['source'] for c in service.get('configs', [])},
                    set(self.compose['configs']))
                named = {v.split(':')[0] for v in service.get('volumes', [])
                    if not v.startswith(('.', '/'))}
                self.assertLessEqual(named, set(self.compose['volumes']))

    def test_files(self):
        "Every file the compose file names is in docker/"
        for key in ['configs', 'secrets']:
            for name, value in self.compose[key].items():
                with self.subTest(**{key: name}):
                    path = DOCKER / value['file']
                    if key == 'secrets':
                        # written by the administrator, never committed
                        self.assertTrue(
                            (path.parent / '.gitignore').is_file())
                    else:
                        self.assertTrue(path.is_file(), path)
        for name, service in self.services.items():
            for volume in service.get('volumes', []):
                if volume.startswith('.'):
                    with self.subTest(service=name, volume=volume):
                        self.assertTrue(
                            (DOCKER / volume.split(':')[0]).exists())
        build = self.compose['x-shop']['build']
        self.assertTrue(
            (DOCKER / build['context'] / build['dockerfile']).is_file())

    def test_one_configuration(self):
        "Every image service mounts the same trytond.conf"
        copies = dockerfile_copies()
        target = copies['docker/trytond.conf']
        self.assertIn(('ENV', 'TRYTOND_CONFIG=%s' % target), [
                (i, a) for i, a in dockerfile_instructions()
                for a in a.split() if a.startswith('TRYTOND_CONFIG=')])
        for name in ROLES:
            with self.subTest(service=name):
                self.assertEqual(self.services[name]['configs'], [
                        {'source': 'trytond_conf', 'target': target}])
        config = configparser.ConfigParser(interpolation=None)
        config.read(DOCKER / 'trytond.conf')
        self.assertTrue(config.getboolean('queue', 'worker'))
        self.assertTrue(config.get('database', 'uri').startswith(
                'postgresql://'))
        filestore = config.get('database', 'path')
        for name in ROLES:
            self.assertIn('filestore:' + filestore,
                self.services[name]['volumes'])
        self.assertIn(('COPY', '--from=sao /build/sao '
                + config.get('web', 'root')), dockerfile_instructions())

    def test_commands_are_entrypoint_roles(self):
        "Each service runs a role of docker/entrypoint.sh"
        roles = entrypoint_roles()
        self.assertLessEqual(set(ROLES.values()) | {'healthcheck'}, roles)
        self.assertEqual(set(image_services(self.compose)), set(ROLES))
        for name, role in ROLES.items():
            with self.subTest(service=name):
                self.assertEqual(self.services[name]['command'], [role])
        entrypoint = dockerfile_copies()['docker/entrypoint.sh']
        test = self.services['trytond']['healthcheck']['test']
        self.assertEqual(test, ['CMD', entrypoint, 'healthcheck'])


class DockerfileTestCase(unittest.TestCase):
    "The Dockerfile runs the scripts of docker/"

    @classmethod
    def setUpClass(cls):
        cls.instructions = dockerfile_instructions()
        cls.copies = dockerfile_copies()

    def arguments(self, instruction):
        return [a for i, a in self.instructions if i == instruction]

    def test_copied_files_exist(self):
        "Every file copied from the checkout exists"
        for source in self.copies:
            with self.subTest(source=source):
                self.assertTrue((REPO / source).exists())

    def test_entrypoint(self):
        "The entrypoint is docker/entrypoint.sh, web by default"
        entrypoint = self.copies['docker/entrypoint.sh']
        self.assertEqual(self.arguments('ENTRYPOINT'),
            [json.dumps([entrypoint])])
        self.assertEqual(self.arguments('CMD'), [json.dumps(['web'])])
        self.assertIn(json.loads(self.arguments('CMD')[0])[0],
            entrypoint_roles())

    def test_scripts_called_are_copied(self):
        "The scripts the entrypoint and init call are copied beside it"
        folder = Path(self.copies['docker/entrypoint.sh']).parent
        for script in ['entrypoint.sh', 'init.sh']:
            text = (DOCKER / script).read_text()
            for called in set(re.findall(r'\$HERE/([\w.]+)', text)):
                with self.subTest(script=script, called=called):
                    self.assertTrue((DOCKER / called).is_file())
                    self.assertEqual(self.copies['docker/' + called],
                        str(folder / called))
        compile_ = self.copies['docker/compile.py']
        self.assertIn('python3 %s' % compile_, self.arguments('RUN'))

    def test_server(self):
        "Installed with pip (not editable), optimised, as a user"
        base = self.arguments('FROM')[-1]
        self.assertTrue(base.startswith('python:${PYTHON_VERSION}-slim'))
        self.assertIn('ARG', {i for i, _ in self.instructions})
        self.assertIn('PYTHON_VERSION=3.11', self.arguments('ARG'))
        installs = [a for a in self.arguments('RUN') if 'pip install' in a]
        self.assertEqual(len(installs), 1)
        self.assertIn("'.[deploy]'", installs[0])
        self.assertNotIn(' -e ', installs[0])
        self.assertIn('PYTHONOPTIMIZE=1', self.arguments('ENV')[0].split())
        self.assertEqual(self.arguments('USER'), ['trytond'])
        self.assertIn('SAO_VERSION=8.0.11', self.arguments('ARG'))
