"""RegistryPusher: publishes a blessed model version into the dermflow registry."""
