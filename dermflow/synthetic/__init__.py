"""A synthetic archive in the exact ISIC 2019 layout: the embedded default for the demo and the tests.

    write_archive("var/archive", n=300)   # dermflow synth
"""
