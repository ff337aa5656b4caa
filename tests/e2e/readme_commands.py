#!/usr/bin/env python3
# Runs the shell blocks of README.md, models/README.md and examples/README.md
# as a newcomer would, from a folder laid out like the repository (`build` is
# this build, `models` a copy of the bundled models, so that the model card's
# commands cannot overwrite them), in the environment `meson devenv` gives
# (the test's: the build tree's plugin on GST_PLUGIN_PATH), standard input
# empty.  Long commands run shorter: trainings with a step limit (--steps,
# fewer images per class); trainings, evaluations and calibrations on a tenth
# of Fashion-MNIST (the first 6,000 training and 1,000 test images, every
# class present, written by this test as the same IDX files); the overlay
# example on fewer frames.  The blocks
# that install into the system, run every test, or need a broker of their
# own are listed with the test that covers them instead.  A block fails the
# test when it exits with a non-zero status.
# Usage: readme_commands.py SOURCE_DIR BUILD_DIR WORK_DIR
import gzip
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
    'four-cameras.sh': 'needs a broker on port 1883; the publish test runs it against its own',
}
# Lines left out of a block that runs, for the reason given.
NOT_RUN_LINES = {
    'scripts/setup.sh': 'installs Debian packages, as scripts/test.sh did before this test',
}
# Trainings stop after a few steps on fewer images: the commands and their
# options are what is tested, not the models they would make.
STEP_LIMIT = ' train --steps 3 --max-per-class 300 --validation-references 500 '
FASHION_MNIST = '/usr/share/datasets/fashion-mnist'
SMALL_FASHION_MNIST = os.path.join(work, 'fashion-mnist-tenth')
# Shorter runs of long commands: (pattern, replacement) on a block's text.
SHORTER = [
    (r' train ', STEP_LIMIT),
    (re.escape(FASHION_MNIST), SMALL_FASHION_MNIST),
    (r'(examples/overlay-faces\.sh build/overlay-example)$', r'\1 30'),
]

def write_small_fashion_mnist():
    # IDX: a 16-byte header for images (magic, count, rows, columns), 8 for
    # labels (magic, count); the count is the second big-endian int32.
    os.makedirs(SMALL_FASHION_MNIST)
    for prefix, count in (('train', 6000), ('t10k', 1000)):
        for kind, header, item in (('images-idx3', 16, 28 * 28), ('labels-idx1', 8, 1)):
            name = f'{prefix}-{kind}-ubyte.gz'
            with gzip.open(os.path.join(FASHION_MNIST, name)) as full:
                data = full.read(header + count * item)
            data = data[:4] + count.to_bytes(4, 'big') + data[8:]
            with gzip.open(os.path.join(SMALL_FASHION_MNIST, name), 'wb') as small:
                small.write(data)

def blocks(path):
    text = open(os.path.join(source, path)).read()
    return re.findall(r'^```sh\n(.*?)^```', text, re.S | re.M)

shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
os.symlink(build, os.path.join(work, 'build'))
shutil.copytree(os.path.join(source, 'models'), os.path.join(work, 'models'))
write_small_fashion_mnist()
for name in ('scripts', 'examples', 'docs'):
    os.symlink(os.path.join(source, name), os.path.join(work, name))
# The README's pipelines read the reference folder scripts/demo.sh writes.
subprocess.run([os.path.join(build, 'demo', 'siamese-fashion-demo'), '--frames', '10', '--quiet',
                '--output', os.path.join(build, 'demo-output')], check=True,
               stdout=subprocess.DEVNULL)

failures = 0
for readme in ('README.md', 'models/README.md', 'examples/README.md'):
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
        script = '\n'.join(lines)
        for pattern, replacement in SHORTER:
            script = re.sub(pattern, replacement, script, flags=re.M)
        shown = lines[0] if lines else shown
        result = subprocess.run(['bash', '-euo', 'pipefail', '-c', script], cwd=work,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, timeout=900)
        print(f'{readme}: exit {result.returncode}: {shown} ...')
        if result.returncode != 0:
            failures += 1
            print(result.stdout[-3000:])
sys.exit(1 if failures else 0)
