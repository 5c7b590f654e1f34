"""dermflow: batch dermoscopy pipeline (TFX + Beam + Airflow).

The card's top-level folders are installed under one namespace: ``components/`` is
``dermflow.components``, ``pipelines/`` is ``dermflow.pipelines`` and ``schemas/`` is
``dermflow.schemas``. No bare ``components`` or ``pipelines`` module is installed.
``dags/`` is not a package: it is Airflow's DAG folder.
"""
from setuptools import find_packages, setup

_MAPPED = {"components": "dermflow.components", "pipelines": "dermflow.pipelines", "schemas": "dermflow.schemas"}


def _packages():
    packages = find_packages(include=["dermflow", "dermflow.*"])
    package_dir = {"dermflow": "dermflow"}
    for folder, name in _MAPPED.items():
        package_dir[name] = folder
        packages.append(name)
        for sub in find_packages(where=folder):
            packages.append(f"{name}.{sub}")
            package_dir[f"{name}.{sub}"] = f"{folder}/{sub.replace('.', '/')}"
    return packages, package_dir


packages, package_dir = _packages()

setup(
    name="dermflow",
    version="0.1.0",
    description="Distributed batch pipeline for dermoscopy images: TFX training, Beam scoring, Airflow DAGs.",
    python_requires=">=3.11,<3.12",
    packages=packages,
    package_dir=package_dir,
    package_data={
        "dermflow.schemas": ["*.pbtxt", "*.json"], "dermflow": ["configs/*.yaml"],
        "dermflow.serving": ["templates/*.html", "static/*"],
        "dermflow.review.migrations": ["script.py.mako"],  # its env.py and versions/*.py install as modules
    },
    include_package_data=True,
    # The exact pins live in requirements/lock.txt and are installed by `make install`
    # (TFX needs a two-step install, see README). These are the direct needs only.
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "tfx>=1.21,<1.22",
        "apache-beam[gcp]>=2.77,<3",
        "apache-airflow>=3.3,<4",
        "pyarrow>=18,<19",
        "scikit-learn==1.5.2",
        "pillow",
        "pydicom",
        "pydantic>=2",
        "pyyaml",
        "matplotlib",
        "tqdm",
    ],
    entry_points={"console_scripts": ["dermflow=dermflow.cli:main"]},
)
