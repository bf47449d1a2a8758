package io.afasim.controller;

import java.util.function.BooleanSupplier;

import org.agrona.concurrent.IdleStrategy;

/**
 * Backoff (spin, yield, park on a doorbell) except during a conversation with the peer controller, when the
 * thread yields instead of parking. The peer's messages arrive over UDP and ring no doorbell, so a parked link
 * thread would see a mirror page or its acknowledgement only at the end of its park (up to
 * {@code afasim.link.parkNsMax} per hop, four hops per mirrored write); and a volume agent whose WB writes wait
 * for the peer's acknowledgement would pay a futex wake-up on top of the round trip. While {@code conversing}
 * holds, both stay awake: the link thread while a reliable message awaits its acknowledgement or one went either
 * way within the conversation window ({@link io.afasim.mirror.Link#isConversing}), a volume agent while writes
 * wait for the peer. An idle pair (heartbeats only) parks as every other agent does.
 *
 * <p>{@code conversing} is called on the agent's own thread, from its idle strategy.
 */
final class ConversationIdleStrategy implements IdleStrategy
{
    private final BooleanSupplier conversing;
    private final IdleStrategy backoff;

    ConversationIdleStrategy(final BooleanSupplier conversing, final IdleStrategy backoff)
    {
        this.conversing = conversing;
        this.backoff = backoff;
    }

    @Override
    public void idle(final int workCount)
    {
        if (workCount > 0)
        {
            backoff.reset();
        }
        else
        {
            idle();
        }
    }

    @Override
    public void idle()
    {
        if (conversing.getAsBoolean())
        {
            backoff.reset();
            Thread.yield();
        }
        else
        {
            backoff.idle();
        }
    }

    @Override
    public void reset()
    {
        backoff.reset();
    }

    @Override
    public String alias()
    {
        return "conversation-backoff";
    }
}
