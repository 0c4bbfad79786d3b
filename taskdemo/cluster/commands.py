"""Control from any process: the command goes to the engine through a Redis stream and its answer comes back on
a key of its own. The answers and status codes are the engine's `execute`, the same as in one process; while no
engine exists (a takeover's few seconds) or Redis is away, control answers 503 with a Retry-After."""
from __future__ import annotations

import json
import uuid
from typing import Any

from ..control import Commands, ControlError
from .link import ANSWER_WAIT_S, UNREACHABLE, Link

COMMANDS_KEPT = 1000


class RedisCommands(Commands):
    def __init__(self, link: Link) -> None:
        self.link = link
        self.sent = 0

    async def send(self, op: str, args: dict[str, Any], source: str) -> dict[str, Any]:
        link = self.link
        if not link.up:
            raise ControlError(503, f'Cannot reach Redis since {link.since_text()}: control is paused until it is '
                                    'back.', retry_after=2)
        request = uuid.uuid4().hex
        try:
            if not await link.fast.exists(link.keys.lease):
                raise ControlError(503, 'No process is advancing the run right now (another one is taking over); '
                                        'try again in a moment.', retry_after=1)
            await link.fast.xadd(link.keys.commands, {'op': op, 'args': json.dumps(args), 'reply': request,
                                                        'source': source},
                                 maxlen=COMMANDS_KEPT, approximate=True)
            self.sent += 1
            answer = await link.blocking.blpop([link.keys.reply(request)], timeout=ANSWER_WAIT_S)
        except UNREACHABLE as error:
            link.failed(error)
            raise ControlError(503, 'Cannot reach Redis: control is paused until it is back.', retry_after=2) \
                from None
        if answer is None:
            raise ControlError(503, f'The process advancing the run did not answer within {ANSWER_WAIT_S} s '
                                    '(it may have just stopped; another takes over within seconds); try again.',
                               retry_after=1)
        reply = json.loads(answer[1])
        if 'ok' in reply:
            return reply['ok']
        raise ControlError(reply['status'], reply['detail'], retry_after=reply.get('retry_after'))
