package io.afasim.mirror;

import java.util.Objects;

import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;

/**
 * Runs a {@link Link} on an Agrona {@link org.agrona.concurrent.AgentRunner} (or a composite agent): the
 * clock is read once per duty cycle, and a cycle with nothing to do returns 0 so the runner's idle strategy
 * (the caller's choice: a backoff strategy parks) keeps the thread cheap when the link is idle. The link is
 * closed on the agent's thread when the runner closes.
 */
public final class LinkAgent implements Agent
{
    private final Link link;
    private final NanoClock clock;
    private final String roleName;

    public LinkAgent(final Link link)
    {
        this(link, SystemNanoClock.INSTANCE);
    }

    public LinkAgent(final Link link, final NanoClock clock)
    {
        this.link = Objects.requireNonNull(link, "link");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.roleName = "afasim-link-" + (link.nodeId() == 0 ? 'A' : 'B');
    }

    public Link link()
    {
        return link;
    }

    @Override
    public int doWork()
    {
        return link.doWork(clock.nanoTime());
    }

    @Override
    public void onClose()
    {
        link.close();
    }

    @Override
    public String roleName()
    {
        return roleName;
    }
}
