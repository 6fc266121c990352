"""Packaging for insight_nb: everything is read from settings.ini (nbdev 2's single source of metadata)."""
from configparser import ConfigParser
from pathlib import Path

import setuptools

cfg = ConfigParser(delimiters=["="])
cfg.read(Path(__file__).parent / "settings.ini", encoding="utf-8")
cfg = cfg["DEFAULT"]

def reqs(key):
    return cfg.get(key, "").split()

setuptools.setup(
    name="insight-nb",
    version=cfg["version"],
    description=cfg["description"],
    long_description=(Path(__file__).parent / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    author=cfg["author"],
    author_email=cfg["author_email"],
    license="Apache-2.0",
    keywords=cfg["keywords"].split(),
    python_requires=f">={cfg['min_python']}",
    packages=setuptools.find_packages(include=["insight_nb", "insight_nb.*"]),
    include_package_data=True,
    package_data={"insight_nb": ["demo_data/*", "templates/*.ipynb"]},
    install_requires=reqs("requirements"),
    extras_require={"dev": reqs("dev_requirements"), "text": reqs("text_requirements")},
    entry_points={"console_scripts": cfg["console_scripts"].split(),
                  "nbdev": [f"{cfg['lib_path']}={cfg['lib_path']}._modidx:d"]},
    zip_safe=False,
)
