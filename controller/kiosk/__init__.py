"""The kiosk's touchscreen pages: server-rendered, a little JavaScript, Chinese and English.

Every action calls the same flows as the JSON API (``controller.flows``); the pages add the
words, the number pad, the door instructions and the timers a person at the screen needs.
"""
