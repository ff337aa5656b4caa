#!/usr/bin/env python3
# Runs the shell blocks of README.md and models/README.md as a newcomer would,
# from a folder laid out like the repository (`build` is this build, `models`
# a copy of the bundled models, so that the model card's commands cannot
# overwrite them).  Trainings run with a step limit (--steps, fewer images per
# class); the blocks that install into the system, run every test, or need a
# broker of their own are listed with the test that covers them instead.
# A block fails the test when it exits with a non-zero status.
# Usage: readme_commands.py SOURCE_DIR BUILD_DIR WORK_DIR
import os
import re
import shutil
import subprocess
import sys

source, build, work = sys.argv[1:4]

# A block holding one of these is not run, for the reason given.
NOT_RUN = {
    'scripts/demo.sh': 'the main job and the whole test suite, this test included; the '
                       'main_job test runs the demo program',
    'sudo meson install': 'installs into the system; the install test installs into a DESTDIR',
    'method=mqtt': 'needs a broker on port 1883; the publish test runs it against its own',
}
# Lines left out of a block that runs, for the reason given.
NOT_RUN_LINES = {
    'scripts/setup.sh': 'installs Debian packages, as scripts/test.sh did before this test',
}
# Trainings stop after a few steps on fewer images: the commands and their
# options are what is tested, not the models they would make.
STEP_LIMIT = ' train --steps 3 --max-per-class 300 --validation-references 500 '

def blocks(path):
    text = open(os.path.join(source, path)).read()
    return re.findall(r'^```sh\n(.*?)^```', text, re.S | re.M)

shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
os.symlink(build, os.path.join(work, 'build'))
shutil.copytree(os.path.join(source, 'models'), os.path.join(work, 'models'))
for name in ('scripts', 'examples', 'docs'):
    os.symlink(os.path.join(source, name), os.path.join(work, name))
# The README's pipelines read the reference folder scripts/demo.sh writes.
subprocess.run([os.path.join(build, 'demo', 'siamese-fashion-demo'), '--frames', '10', '--quiet',
                '--output', os.path.join(build, 'demo-output')], check=True,
               stdout=subprocess.DEVNULL)

failures = 0
for readme in ('README.md', 'models/README.md'):
    for block in blocks(readme):
        reason = next((why for key, why in NOT_RUN.items() if key in block), None)
        shown = block.strip().splitlines()[0]
        if reason:
            print(f'{readme}: not run: {shown} ... ({reason})')
            continue
        lines = []
        for line in block.splitlines():
            if line.strip() in NOT_RUN_LINES:
                print(f'{readme}: not run: {line.strip()} ({NOT_RUN_LINES[line.strip()]})')
            else:
                lines.append(line)
        script = re.sub(r' train ', STEP_LIMIT, '\n'.join(lines))
        shown = lines[0] if lines else shown
        result = subprocess.run(['bash', '-euo', 'pipefail', '-c', script], cwd=work,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                timeout=900)
        print(f'{readme}: exit {result.returncode}: {shown} ...')
        if result.returncode != 0:
            failures += 1
            print(result.stdout[-3000:])
sys.exit(1 if failures else 0)
