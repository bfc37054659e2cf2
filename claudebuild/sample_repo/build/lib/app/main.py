"""Build output copied by the old packaging script; ignored by git."""

import os


def package():
    os.system("tar czf dist/shopfront.tgz build/lib")
