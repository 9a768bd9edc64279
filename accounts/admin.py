from django.contrib import admin
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from accounts.forms import LookalikeUsernameMixin
from accounts.models import User


class UserCreationForm(LookalikeUsernameMixin, auth_forms.AdminUserCreationForm):
    pass


class UserChangeForm(LookalikeUsernameMixin, auth_forms.UserChangeForm):
    pass


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Django's user admin, whose forms also refuse a look-alike username (a form error where
    the skeleton's unique constraint would otherwise make the save a 500)."""

    add_form = UserCreationForm
    form = UserChangeForm
