"""Actions: change something outside the project (``push``: a registry; ``schedule``: the
user's crontab), where targets only write files into it.

No registry, unlike ``targets``: every target answers one question (``plan(context)``:
which files), so one ``export`` writes any of them; each action is its own verb with its
own arguments and result (push: a destination and digests; schedule: install, list,
remove), so the API calls each module directly. An action may use a target's files
(``schedule`` installs the wrappers ``targets.cron`` writes); a target never acts.
"""
