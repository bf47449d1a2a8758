package io.afasim.controller;

import java.util.function.BooleanSupplier;

import org.agrona.concurrent.IdleStrategy;

/**
 * Backoff (spin, then park: on a doorbell, or for the link thread on its sockets) except during a conversation with
 * the peer controller, when the thread yields instead. A woken thread is late: on this 2-core VM a wake-up by a
 * datagram or a futex costs about 15 µs more than a thread that polls in a yield loop, and a mirrored write has four
 * hops (volume agent, link, peer link, link back to the volume agent). While {@code conversing} holds, the thread
 * stays awake: the link thread while the exchange is latency-bound ({@link io.afasim.mirror.Link#isConversing}: few
 * messages a window), a volume agent while a few WB writes wait for the peer. Anything busier waits to be woken, so
 * that its yields take no CPU from the threads that feed it; an idle pair (heartbeats only) waits as well.
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
