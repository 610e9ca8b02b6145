"""``iplus org`` and ``iplus user``."""

from typing import Annotated

import typer

from iplus.cli.main import BuildContext, out, table, with_context
from iplus.core.errors import InvalidInput
from iplus.platform.context import Context


def register(app: typer.Typer, build: BuildContext) -> None:
    """Add the organisation and user commands to ``app``."""
    org_app = typer.Typer(help="Organisations (tenants).", no_args_is_help=True)
    user_app = typer.Typer(help="Users and their memberships.", no_args_is_help=True)
    app.add_typer(org_app, name="org")
    app.add_typer(user_app, name="user")

    @org_app.command("create")
    def org_create(
        name: Annotated[str, typer.Argument(help="Organisation name, unique.")],
        role: Annotated[
            list[str],
            typer.Option("--role", "-r", help="operator, provider or user; repeat for several."),
        ],
    ) -> None:
        """Create an organisation holding one or more roles."""

        async def work(ctx: Context) -> None:
            org = await ctx.accounts.create_organisation(name, role)
            out.print(
                f"created organisation {org.name!r} id={org.id} roles={','.join(org.roles)}",
                markup=False,
            )

        with_context(build, work)

    @org_app.command("list")
    def org_list() -> None:
        """List every organisation."""

        async def work(ctx: Context) -> None:
            orgs = await ctx.accounts.all_organisations()
            t = table("id", "name", "roles", "created")
            for o in orgs:
                t.add_row(o.id, o.name, ",".join(o.roles), o.created_at.strftime("%Y-%m-%d %H:%M"))
            out.print(t)

        with_context(build, work)

    @user_app.command("create")
    def user_create(
        org: Annotated[str, typer.Option(help="Name of the organisation the user joins.")],
        email: Annotated[str, typer.Option(help="Login e-mail.")],
        name: Annotated[str, typer.Option(help="Display name.")] = "",
        password: Annotated[
            str | None,
            typer.Option(help="Password (at least 10 characters); asked for when omitted."),
        ] = None,
        admin: Annotated[bool, typer.Option("--admin", help="Administrator of the organisation.")] = False,
    ) -> None:
        """Create a user in an organisation."""
        if password is None:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

        async def work(ctx: Context) -> None:
            target = await ctx.accounts.organisation_by_name(org)
            if password is None:
                raise InvalidInput("a password is needed")
            member = await ctx.accounts.create_user(
                org_id=target.id, email=email, name=name, password=password, is_admin=admin
            )
            out.print(
                f"created user {member.user.email} id={member.user.id} in {target.name!r}"
                + (" (administrator)" if admin else ""),
                markup=False,
            )

        with_context(build, work)

    @user_app.command("set-password")
    def user_set_password(
        email: Annotated[str, typer.Option(help="Login e-mail of the user.")],
        password: Annotated[
            str | None, typer.Option(help="New password (at least 10 characters); asked for when omitted.")
        ] = None,
    ) -> None:
        """Set a user's password; their refresh tokens and portal sessions end."""
        if password is None:
            password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
        new_password = password

        async def work(ctx: Context) -> None:
            await ctx.accounts.set_password(email, new_password)
            out.print(f"password of {email.strip().lower()} changed", markup=False)

        with_context(build, work)

    @user_app.command("list")
    def user_list(
        org: Annotated[str, typer.Option(help="Name of the organisation.")],
    ) -> None:
        """List the members of an organisation."""

        async def work(ctx: Context) -> None:
            target = await ctx.accounts.organisation_by_name(org)
            members = await ctx.accounts.list_members(target.id, limit=10_000)
            t = table("id", "email", "name", "admin", "active")
            for m in members:
                t.add_row(
                    m.user.id,
                    m.user.email,
                    m.user.name,
                    "yes" if m.membership.is_admin else "no",
                    "yes" if m.user.is_active else "no",
                )
            out.print(t)

        with_context(build, work)
