"""ArtefactCheck: pastes artefacts onto the eval split and gates the push on how often the label changes."""
